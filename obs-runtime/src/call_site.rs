//! The catalog of annotated functions: one static [`CallSite`] per `#[observed]` function,
//! collected at link time, each resolving its metric handles once.

use crate::metrics::endpoint_metrics::{self, EndpointMetrics};
use crate::objectives::Objectives;
use std::sync::{Arc, OnceLock};

/// What `#[observed]` knows about an endpoint at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct EndpointInfo {
    pub method: &'static str,
    pub route: &'static str,
    pub function: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub doc: &'static str,
    pub buckets: Option<&'static [f64]>,
    /// `slo(success = "99.9%")` as a ratio (`0.999`).
    pub success_objective: Option<f64>,
    /// `slo(latency = "250ms @ 99%")` as `(0.25, 0.99)`.
    pub latency_objective: Option<(f64, f64)>,
}

/// One annotated function: its endpoint, source location and documentation.
///
/// Every `#[observed]` function has exactly one, registered in [`catalog`] before `main` runs.
#[derive(Debug)]
pub struct CallSite {
    info: EndpointInfo,
    metrics: OnceLock<Arc<EndpointMetrics>>,
}

/// The default duration buckets in seconds: the OpenTelemetry HTTP semantic conventions' advice.
pub const DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

impl CallSite {
    #[doc(hidden)]
    #[must_use]
    pub const fn endpoint(info: EndpointInfo) -> Self {
        CallSite { info, metrics: OnceLock::new() }
    }

    /// The HTTP method, upper case (`GET`).
    #[must_use]
    pub fn method(&self) -> &'static str {
        self.info.method
    }

    /// The route template (`/users/{id}`), the value of the `http_route` label.
    #[must_use]
    pub fn route(&self) -> &'static str {
        self.info.route
    }

    /// The function's name.
    #[must_use]
    pub fn function(&self) -> &'static str {
        self.info.function
    }

    /// The module the function is defined in.
    #[must_use]
    pub fn module_path(&self) -> &'static str {
        self.info.module_path
    }

    /// The source file of the function.
    #[must_use]
    pub fn file(&self) -> &'static str {
        self.info.file
    }

    /// The line of the function's name in [`file`](Self::file).
    #[must_use]
    pub fn line(&self) -> u32 {
        self.info.line
    }

    /// The function's doc comment, one line per `///` line; empty when it has none.
    #[must_use]
    pub fn doc(&self) -> &'static str {
        self.info.doc
    }

    /// The histogram bucket bounds in seconds: the annotation's, or [`DEFAULT_BUCKETS`].
    #[must_use]
    pub fn buckets(&self) -> &'static [f64] {
        self.info.buckets.unwrap_or(DEFAULT_BUCKETS)
    }

    /// The endpoint's service-level objectives: declared with `slo(...)`, or the defaults.
    #[must_use]
    pub fn objectives(&self) -> Objectives {
        Objectives::for_endpoint(self.info.success_objective, self.info.latency_objective, self.buckets())
    }

    /// The span name: `"{METHOD} {route}"`.
    #[must_use]
    pub fn span_name(&self) -> String {
        format!("{} {}", self.info.method, self.info.route)
    }

    /// The metric handles of this endpoint, resolved on the first call and cached.
    pub(crate) fn metrics(&'static self) -> &'static EndpointMetrics {
        self.metrics.get_or_init(|| endpoint_metrics::register(self))
    }
}

#[doc(hidden)]
#[linkme::distributed_slice]
pub static CALL_SITES: [&'static CallSite];

/// Every `#[observed]` function linked into this program, in no particular order.
///
/// ```
/// for site in obs_runtime::catalog() {
///     println!("{} {} -> {}:{}", site.method(), site.route(), site.file(), site.line());
/// }
/// ```
#[must_use]
pub fn catalog() -> &'static [&'static CallSite] {
    &CALL_SITES
}

/// Two functions claiming the same method and route, which would merge their series.
#[derive(Debug)]
pub(crate) struct DuplicateEndpoint {
    pub first: &'static CallSite,
    pub second: &'static CallSite,
}

/// Registers every endpoint of the catalog so its series exist from start-up with zero counts.
pub(crate) fn register_catalog() -> Result<(), DuplicateEndpoint> {
    let mut sites: Vec<&'static CallSite> = catalog().to_vec();
    sites.sort_by_key(|site| (site.route(), site.method(), site.file(), site.line()));
    for pair in sites.windows(2) {
        if (pair[0].route(), pair[0].method()) == (pair[1].route(), pair[1].method()) {
            return Err(DuplicateEndpoint { first: pair[0], second: pair[1] });
        }
    }
    for site in sites {
        site.metrics();
    }
    Ok(())
}
