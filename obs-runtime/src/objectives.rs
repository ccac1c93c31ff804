//! Service-level objectives of an endpoint: declared with `slo(...)` in `#[observed]`, or the
//! defaults below. The generators turn them into burn-rate alerts and error-budget panels.

/// The success objective every endpoint without `slo(success = ...)` gets: 99% of calls succeed.
pub const DEFAULT_SUCCESS_TARGET: f64 = 0.99;

/// The latency threshold, in seconds, of endpoints without `slo(latency = ...)`.
///
/// When the endpoint's buckets lack this bound, the smallest larger bound is used (or the largest
/// bound when all are smaller), so the objective is always measurable from the histogram.
pub const DEFAULT_LATENCY_THRESHOLD_SECONDS: f64 = 1.0;

/// The share of calls that must finish under the latency threshold by default.
pub const DEFAULT_LATENCY_TARGET: f64 = 0.99;

/// The objectives of one endpoint.
///
/// ```
/// # use obs_runtime::Objectives;
/// let objectives = Objectives::for_endpoint(Some(0.999), Some((0.25, 0.99)), obs_runtime::DEFAULT_BUCKETS);
/// assert_eq!(objectives.success_target(), 0.999);
/// assert!((objectives.error_budget() - 0.001).abs() < 1e-12);
/// assert_eq!(objectives.latency_threshold_seconds(), 0.25);
/// assert!(objectives.latency_declared());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objectives {
    success_target: f64,
    success_declared: bool,
    latency_threshold_seconds: f64,
    latency_target: f64,
    latency_declared: bool,
}

impl Objectives {
    /// The objectives from what the annotation declared, with defaults for the rest.
    ///
    /// `latency` is `(threshold_seconds, target)`. `buckets` are the endpoint's histogram bounds,
    /// from which the default latency threshold is chosen.
    #[must_use]
    pub fn for_endpoint(success: Option<f64>, latency: Option<(f64, f64)>, buckets: &[f64]) -> Self {
        let (latency_threshold_seconds, latency_target) =
            latency.unwrap_or_else(|| (default_threshold(buckets), DEFAULT_LATENCY_TARGET));
        Objectives {
            success_target: success.unwrap_or(DEFAULT_SUCCESS_TARGET),
            success_declared: success.is_some(),
            latency_threshold_seconds,
            latency_target,
            latency_declared: latency.is_some(),
        }
    }

    /// The share of calls that must succeed, in `(0, 1)`: `0.999` for `"99.9%"`.
    #[must_use]
    pub fn success_target(&self) -> f64 {
        self.success_target
    }

    /// The share of calls allowed to fail: `1 - success_target`.
    #[must_use]
    pub fn error_budget(&self) -> f64 {
        1.0 - self.success_target
    }

    /// Whether the success objective was declared in the annotation (otherwise it is the default).
    #[must_use]
    pub fn success_declared(&self) -> bool {
        self.success_declared
    }

    /// The latency threshold in seconds; always one of the endpoint's bucket bounds.
    #[must_use]
    pub fn latency_threshold_seconds(&self) -> f64 {
        self.latency_threshold_seconds
    }

    /// The share of calls that must finish within the threshold, in `(0, 1)`.
    #[must_use]
    pub fn latency_target(&self) -> f64 {
        self.latency_target
    }

    /// The share of calls allowed to be slower than the threshold: `1 - latency_target`.
    #[must_use]
    pub fn latency_budget(&self) -> f64 {
        1.0 - self.latency_target
    }

    /// Whether the latency objective was declared in the annotation (otherwise it is the default).
    #[must_use]
    pub fn latency_declared(&self) -> bool {
        self.latency_declared
    }
}

fn default_threshold(buckets: &[f64]) -> f64 {
    buckets
        .iter()
        .copied()
        .find(|bound| *bound >= DEFAULT_LATENCY_THRESHOLD_SECONDS)
        .or_else(|| buckets.last().copied())
        .unwrap_or(DEFAULT_LATENCY_THRESHOLD_SECONDS)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the values are copied, never computed: exact equality is the claim
mod tests {
    use super::*;

    #[test]
    fn defaults_pick_a_bucket_bound() {
        let objectives = Objectives::for_endpoint(None, None, &[0.1, 0.5, 2.0]);
        assert_eq!(objectives.latency_threshold_seconds(), 2.0);
        assert_eq!(objectives.success_target(), DEFAULT_SUCCESS_TARGET);
        assert!(!objectives.success_declared() && !objectives.latency_declared());
        let small = Objectives::for_endpoint(None, None, &[0.01, 0.1]);
        assert_eq!(small.latency_threshold_seconds(), 0.1);
        let default = Objectives::for_endpoint(None, None, crate::DEFAULT_BUCKETS);
        assert_eq!(default.latency_threshold_seconds(), 1.0);
    }

    #[test]
    fn declared_objectives_are_kept() {
        let objectives = Objectives::for_endpoint(Some(0.995), Some((0.25, 0.95)), crate::DEFAULT_BUCKETS);
        assert_eq!(objectives.success_target(), 0.995);
        assert_eq!(objectives.latency_threshold_seconds(), 0.25);
        assert_eq!(objectives.latency_target(), 0.95);
        assert!((objectives.latency_budget() - 0.05).abs() < 1e-12);
    }
}
