//! The catalog of annotated functions: one static [`CallSite`] per `#[observed]` function,
//! collected at link time, each resolving its metric handles once.

use crate::metrics::endpoint_metrics::{self, EndpointMetrics};
use crate::metrics::operation_metrics::{self, OperationMetrics};
use crate::objectives::Objectives;
use crate::schema::DEFAULT_BUCKETS;
use std::sync::{Arc, OnceLock};

/// What `#[observed(endpoint = ...)]` knows about an endpoint at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct EndpointInfo {
    pub method: &'static str,
    pub route: &'static str,
    pub function: &'static str,
    /// `core::any::type_name` of an item nested in the function: its full path, which names
    /// the impl's type for a method (something the attribute itself cannot see).
    pub function_path: fn() -> &'static str,
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

/// What `#[observed(operation = ...)]` knows about an internal operation at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct OperationInfo {
    pub operation: &'static str,
    pub function: &'static str,
    /// `core::any::type_name` of an item nested in the function: its full path, which names
    /// the impl's type for a method (something the attribute itself cannot see).
    pub function_path: fn() -> &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub doc: &'static str,
    pub buckets: Option<&'static [f64]>,
}

/// Whether a call site serves an HTTP endpoint or runs an internal operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CallSiteKind {
    /// `#[observed(endpoint = "/users/{id}", method = "GET")]`: an HTTP handler, recorded as
    /// `http_server_request_duration_seconds` under a server span.
    Endpoint,
    /// `#[observed(operation = "db.load_user")]`: an internal step, recorded as
    /// `operation_duration_seconds` under an internal child span.
    Operation,
}

#[derive(Debug)]
enum Details {
    Endpoint(EndpointInfo),
    Operation(OperationInfo),
}

/// The metric state a call site records into, resolved once.
#[derive(Debug)]
pub(crate) enum SiteMetrics {
    Endpoint(Arc<EndpointMetrics>),
    Operation(Arc<OperationMetrics>),
}

/// One annotated function: its endpoint or operation, source location and documentation.
///
/// Every `#[observed]` function has exactly one, registered in [`catalog`] before `main` runs.
#[derive(Debug)]
pub struct CallSite {
    details: Details,
    metrics: OnceLock<SiteMetrics>,
    function_name: OnceLock<String>,
}

impl CallSite {
    #[doc(hidden)]
    #[must_use]
    pub const fn endpoint(info: EndpointInfo) -> Self {
        CallSite { details: Details::Endpoint(info), metrics: OnceLock::new(), function_name: OnceLock::new() }
    }

    #[doc(hidden)]
    #[must_use]
    pub const fn for_operation(info: OperationInfo) -> Self {
        CallSite { details: Details::Operation(info), metrics: OnceLock::new(), function_name: OnceLock::new() }
    }

    /// Whether this is an endpoint or an internal operation.
    #[must_use]
    pub fn kind(&self) -> CallSiteKind {
        match self.details {
            Details::Endpoint(_) => CallSiteKind::Endpoint,
            Details::Operation(_) => CallSiteKind::Operation,
        }
    }

    /// The HTTP method, upper case (`GET`); empty for an operation, which has none.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match &self.details {
            Details::Endpoint(info) => info.method,
            Details::Operation(_) => "",
        }
    }

    /// The route template (`/users/{id}`), the value of the `http_route` label; empty for an
    /// operation, which has none.
    #[must_use]
    pub fn route(&self) -> &'static str {
        match &self.details {
            Details::Endpoint(info) => info.route,
            Details::Operation(_) => "",
        }
    }

    /// The operation name (`db.load_user`), the value of the `operation` label; `None` for an
    /// endpoint.
    #[must_use]
    pub fn operation(&self) -> Option<&'static str> {
        match &self.details {
            Details::Endpoint(_) => None,
            Details::Operation(info) => Some(info.operation),
        }
    }

    /// The function's name within its module, the `code.function` attribute: `get_user` for a
    /// free function, `Users::get` for a method of `Users` (trait impls included), without
    /// generic arguments.
    #[must_use]
    pub fn function(&self) -> &str {
        self.function_name.get_or_init(|| {
            let (ident, path) = match &self.details {
                Details::Endpoint(info) => (info.function, (info.function_path)()),
                Details::Operation(info) => (info.function, (info.function_path)()),
            };
            function_name(path, self.module_path()).unwrap_or_else(|| ident.to_owned())
        })
    }

    /// The module the function is defined in.
    #[must_use]
    pub fn module_path(&self) -> &'static str {
        match &self.details {
            Details::Endpoint(info) => info.module_path,
            Details::Operation(info) => info.module_path,
        }
    }

    /// The source file of the function.
    #[must_use]
    pub fn file(&self) -> &'static str {
        match &self.details {
            Details::Endpoint(info) => info.file,
            Details::Operation(info) => info.file,
        }
    }

    /// The line of the function's name in [`file`](Self::file).
    #[must_use]
    pub fn line(&self) -> u32 {
        match &self.details {
            Details::Endpoint(info) => info.line,
            Details::Operation(info) => info.line,
        }
    }

    /// The function's doc comment, one line per `///` line; empty when it has none.
    #[must_use]
    pub fn doc(&self) -> &'static str {
        match &self.details {
            Details::Endpoint(info) => info.doc,
            Details::Operation(info) => info.doc,
        }
    }

    /// The histogram bucket bounds in seconds: the annotation's, or [`DEFAULT_BUCKETS`].
    #[must_use]
    pub fn buckets(&self) -> &'static [f64] {
        let buckets = match &self.details {
            Details::Endpoint(info) => info.buckets,
            Details::Operation(info) => info.buckets,
        };
        buckets.unwrap_or(DEFAULT_BUCKETS)
    }

    /// The endpoint's service-level objectives: declared with `slo(...)`, or the defaults. An
    /// operation cannot declare objectives (they belong to the endpoint that serves the
    /// request) and reports the defaults.
    #[must_use]
    pub fn objectives(&self) -> Objectives {
        match &self.details {
            Details::Endpoint(info) => {
                Objectives::for_endpoint(info.success_objective, info.latency_objective, self.buckets())
            }
            Details::Operation(_) => Objectives::for_endpoint(None, None, self.buckets()),
        }
    }

    /// The span name: `"{METHOD} {route}"` for an endpoint, the operation name for an operation.
    #[must_use]
    pub fn span_name(&self) -> String {
        match &self.details {
            Details::Endpoint(info) => format!("{} {}", info.method, info.route),
            Details::Operation(info) => info.operation.to_owned(),
        }
    }

    /// The metric handles of this call site, resolved on the first call and cached.
    pub(crate) fn metrics(&'static self) -> &'static SiteMetrics {
        self.metrics.get_or_init(|| match self.details {
            Details::Endpoint(_) => SiteMetrics::Endpoint(endpoint_metrics::register(self)),
            Details::Operation(_) => SiteMetrics::Operation(operation_metrics::register(self)),
        })
    }
}

/// The marker item `#[observed]` nests in every function.
const FUNCTION_PATH_MARKER: &str = "::__obs_function_path";

/// `Users::get` from the type name of the marker nested in `get`: the module prefix and every
/// generic argument dropped, a trait impl's `<Users<T> as Trait>` shortened to its type.
/// `None` when the path is not of that form (type names are not a stable format).
fn function_name(marker_path: &str, module_path: &str) -> Option<String> {
    // An `async fn`'s body, where the marker is nested, is a closure in the path.
    let path = marker_path.strip_suffix(FUNCTION_PATH_MARKER)?.replace("::{{closure}}", "");
    let path = path.as_str();
    let path = if let Some(qualified) = path.strip_prefix('<') {
        // `<crate::m::Users<u8> as crate::m::Trait>::get`: the self type, then the rest.
        let mut depth = 0_usize;
        let close = qualified.char_indices().find_map(|(at, c)| match c {
            '<' => {
                depth += 1;
                None
            }
            '>' if depth == 0 => Some(at),
            '>' => {
                depth -= 1;
                None
            }
            _ => None,
        })?;
        let inner = &qualified[..close];
        let self_type = inner.split(" as ").next().unwrap_or(inner);
        let self_type = without_generics(self_type);
        let short = self_type.rsplit("::").next().unwrap_or(&self_type);
        format!("{short}{}", &qualified[close + 1..])
    } else {
        let path = without_generics(path);
        match path.strip_prefix(module_path).and_then(|rest| rest.strip_prefix("::")) {
            Some(rest) => rest.to_owned(),
            None => path,
        }
    };
    (!path.is_empty()).then_some(path)
}

fn without_generics(path: &str) -> String {
    let mut depth = 0_usize;
    path.chars()
        .filter(|c| match c {
            '<' => {
                depth += 1;
                false
            }
            '>' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

#[doc(hidden)]
#[linkme::distributed_slice]
pub static CALL_SITES: [&'static CallSite];

/// Every `#[observed]` function linked into this program, endpoints and operations, in no
/// particular order. See [`endpoints`] and [`operations`] for one kind only.
///
/// ```
/// for site in obs_runtime::catalog() {
///     println!("{:?} {} -> {}:{}", site.kind(), site.span_name(), site.file(), site.line());
/// }
/// ```
#[must_use]
pub fn catalog() -> &'static [&'static CallSite] {
    &CALL_SITES
}

/// The endpoints of the [`catalog`]: every `#[observed(endpoint = ...)]` function.
///
/// ```
/// for site in obs_runtime::endpoints() {
///     println!("{} {} -> {}:{}", site.method(), site.route(), site.file(), site.line());
/// }
/// ```
pub fn endpoints() -> impl Iterator<Item = &'static CallSite> {
    catalog().iter().copied().filter(|site| site.kind() == CallSiteKind::Endpoint)
}

/// The internal operations of the [`catalog`]: every `#[observed(operation = ...)]` function.
pub fn operations() -> impl Iterator<Item = &'static CallSite> {
    catalog().iter().copied().filter(|site| site.kind() == CallSiteKind::Operation)
}

/// Registers every call site of the catalog so its series exist from start-up with zero counts.
///
/// # Errors
/// Every group of call sites that claim one endpoint (method and route) or one operation name,
/// which would merge their series; nothing is registered then.
pub(crate) fn register_catalog() -> Result<(), Vec<Vec<&'static CallSite>>> {
    let mut sites: Vec<&'static CallSite> = catalog().to_vec();
    let identity = |site: &CallSite| (site.kind(), site.operation().unwrap_or_default(), site.route(), site.method());
    sites.sort_by_key(|site| (identity(site), site.file(), site.line()));
    let duplicates: Vec<Vec<&'static CallSite>> = sites
        .chunk_by(|left, right| identity(left) == identity(right))
        .filter(|group| group.len() > 1)
        .map(<[&CallSite]>::to_vec)
        .collect();
    if !duplicates.is_empty() {
        return Err(duplicates);
    }
    for site in sites {
        site.metrics();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::function_name;

    #[test]
    fn function_names_name_the_impl_type() {
        for (path, module, expected) in [
            ("demo::get_user::__obs_function_path", "demo", "get_user"),
            ("demo::users::Users<_>::get::__obs_function_path", "demo::users", "Users::get"),
            (
                "<demo::users::Users<u8> as demo::users::Lookup<u8>>::find::__obs_function_path",
                "demo::users",
                "Users::find",
            ),
            (
                "<my_api::Greeter as my_api::proto::greeter_server::Greeter>::say_hello::__obs_function_path",
                "my_api",
                "Greeter::say_hello",
            ),
            ("demo::main::inner::__obs_function_path", "demo", "main::inner"),
            ("demo::get_user::{{closure}}::__obs_function_path", "demo", "get_user"),
            ("demo::Users::get::{{closure}}::__obs_function_path", "demo", "Users::get"),
        ] {
            assert_eq!(function_name(path, module).as_deref(), Some(expected), "{path}");
        }
        assert_eq!(function_name("something else", "demo"), None);
    }
}
