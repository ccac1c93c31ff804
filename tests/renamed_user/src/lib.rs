//! A user crate whose Cargo.toml renames obs-runtime (`renamed_obs = { package = "obs-runtime" }`)
//! and tells the macro with `crate = renamed_obs`. It has no dependency named
//! `obs_runtime` at all, so it only compiles when every generated path honours `crate`.

use renamed_obs::observed;

/// An endpoint observed through the renamed dependency; fails for 0.
///
/// # Errors
/// `fmt::Error` for id 0.
#[observed(endpoint = "/renamed/{id}", crate = renamed_obs)]
pub fn renamed_endpoint(id: u32) -> Result<u32, std::fmt::Error> {
    if id == 0 { Err(std::fmt::Error) } else { Ok(id * 2) }
}

/// An async operation observed through the renamed dependency, with the path written absolute.
#[observed(operation = "renamed.load", crate = ::renamed_obs)]
pub async fn renamed_operation(id: u32) -> u32 {
    id + 1
}

#[cfg(test)]
mod tests {
    use super::{renamed_endpoint, renamed_operation};
    use obs_tests::exposition::sum_matching;
    use renamed_obs::metrics::{ExpositionFormat, render};

    #[test]
    #[allow(clippy::float_cmp)] // counts are integers carried as f64: exact comparison is the point
    fn calls_through_a_renamed_dependency_are_recorded() {
        assert_eq!(renamed_endpoint(4), Ok(8));
        assert!(renamed_endpoint(0).is_err());
        assert_eq!(obs_tests::block_on(renamed_operation(1)), 2);
        let text = render(ExpositionFormat::OpenMetrics);
        let requests = "http_server_request_duration_seconds_count";
        assert_eq!(sum_matching(&text, requests, &[("http_route", "/renamed/{id}"), ("error_type", "")]), 1.0);
        assert_eq!(sum_matching(&text, requests, &[("http_route", "/renamed/{id}"), ("error_type", "Error")]), 1.0);
        assert_eq!(sum_matching(&text, "operation_duration_seconds_count", &[("operation", "renamed.load")]), 1.0);
    }
}
