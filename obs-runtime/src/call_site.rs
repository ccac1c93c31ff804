//! The catalog of annotated functions: one static [`CallSite`] per `#[observed]` function,
//! collected at link time, each resolving its metric handles once.

use crate::error::DuplicateClaim;
use crate::metrics::site_metrics::{self, SeriesKey, SiteMetrics};
use crate::objectives::Objectives;
use crate::schema::DEFAULT_BUCKETS;
use crate::telemetry::call_line::LinePieces;
use std::sync::{Arc, OnceLock};

/// What `#[observed(...)]` knows about a function at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct CallSiteInfo {
    pub target: Target,
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

/// What the function is observed as.
#[doc(hidden)]
#[derive(Debug)]
pub enum Target {
    /// `#[observed(endpoint = ..)]`.
    Endpoint {
        method: &'static str,
        route: &'static str,
        /// `slo(success = "99.9%")` as a ratio (`0.999`).
        success_objective: Option<f64>,
        /// `slo(latency = "250ms @ 99%")` as `(0.25, 0.99)`.
        latency_objective: Option<(f64, f64)>,
    },
    /// `#[observed(operation = ..)]`.
    Operation { name: &'static str },
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

/// One annotated function: its endpoint or operation, source location and documentation.
///
/// Every `#[observed]` function has exactly one, registered in [`catalog`] before `main` runs.
#[derive(Debug)]
pub struct CallSite {
    info: CallSiteInfo,
    metrics: OnceLock<Arc<SiteMetrics>>,
    function_name: OnceLock<String>,
    line_pieces: OnceLock<LinePieces>,
}

impl CallSite {
    #[doc(hidden)]
    #[must_use]
    pub const fn new(info: CallSiteInfo) -> Self {
        CallSite { info, metrics: OnceLock::new(), function_name: OnceLock::new(), line_pieces: OnceLock::new() }
    }

    /// Whether this is an endpoint or an internal operation.
    #[must_use]
    pub fn kind(&self) -> CallSiteKind {
        match self.info.target {
            Target::Endpoint { .. } => CallSiteKind::Endpoint,
            Target::Operation { .. } => CallSiteKind::Operation,
        }
    }

    /// The HTTP method, upper case (`GET`); empty for an operation, which has none.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self.info.target {
            Target::Endpoint { method, .. } => method,
            Target::Operation { .. } => "",
        }
    }

    /// The route template (`/users/{id}`), the value of the `http_route` label; empty for an
    /// operation, which has none.
    #[must_use]
    pub fn route(&self) -> &'static str {
        match self.info.target {
            Target::Endpoint { route, .. } => route,
            Target::Operation { .. } => "",
        }
    }

    /// The operation name (`db.load_user`), the value of the `operation` label; `None` for an
    /// endpoint.
    #[must_use]
    pub fn operation(&self) -> Option<&'static str> {
        match self.info.target {
            Target::Endpoint { .. } => None,
            Target::Operation { name } => Some(name),
        }
    }

    /// The function's name within its module, the `code.function` attribute: `get_user` for a
    /// free function, `Users::get` for a method of `Users` (trait impls included), without
    /// generic arguments.
    #[must_use]
    pub fn function(&self) -> &str {
        self.function_name.get_or_init(|| {
            function_name((self.info.function_path)(), self.module_path())
                .unwrap_or_else(|| self.info.function.to_owned())
        })
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

    /// The endpoint's service-level objectives: declared with `slo(...)`, or the defaults. An
    /// operation cannot declare objectives (they belong to the endpoint that serves the
    /// request) and reports the defaults.
    #[must_use]
    pub fn objectives(&self) -> Objectives {
        match self.info.target {
            Target::Endpoint { success_objective, latency_objective, .. } => {
                Objectives::for_endpoint(success_objective, latency_objective, self.buckets())
            }
            Target::Operation { .. } => Objectives::for_endpoint(None, None, self.buckets()),
        }
    }

    /// The parts of this site's per-call JSON line that never change.
    pub(crate) fn line_pieces(&self) -> &LinePieces {
        self.line_pieces.get_or_init(|| LinePieces::of(self))
    }

    /// The span name: `"{METHOD} {route}"` for an endpoint, the operation name for an operation.
    #[must_use]
    pub fn span_name(&self) -> String {
        match self.info.target {
            Target::Endpoint { method, route, .. } => format!("{method} {route}"),
            Target::Operation { name } => name.to_owned(),
        }
    }

    /// The series this call site's calls are counted under: its endpoint or its operation.
    fn series_key(&self) -> SeriesKey {
        match self.info.target {
            Target::Endpoint { method, route, .. } => SeriesKey::Endpoint { method, route },
            Target::Operation { name } => SeriesKey::Operation { name },
        }
    }

    /// The metric state of this call site, resolved on the first call and cached.
    pub(crate) fn metrics(&self) -> &SiteMetrics {
        self.metrics.get_or_init(|| site_metrics::register(self.series_key(), self.buckets()))
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

/// Every endpoint (method and route) or operation name that more than one of `sites` claims,
/// with every location claiming it: their series would merge. Sorted; empty when all is well.
///
/// ```
/// for claim in obs_runtime::duplicate_claims(obs_runtime::catalog()) {
///     eprintln!("{claim}: give each function its own endpoint or operation");
/// }
/// ```
#[must_use]
pub fn duplicate_claims(sites: &[&CallSite]) -> Vec<DuplicateClaim> {
    let mut sites: Vec<&CallSite> = sites.to_vec();
    sites.sort_by_key(|site| (site.series_key(), site.file(), site.line()));
    sites
        .chunk_by(|left, right| left.series_key() == right.series_key())
        .filter(|group| group.len() > 1)
        .map(|group| DuplicateClaim {
            claimed: match group[0].info.target {
                Target::Operation { name } => format!("operation {name:?}"),
                Target::Endpoint { method, route, .. } => format!("{method} {route}"),
            },
            locations: group.iter().map(|site| format!("{}:{}", site.file(), site.line())).collect(),
        })
        .collect()
}

/// Registers every call site of the catalog so its series exist from start-up with zero counts.
///
/// # Errors
/// Every duplicate claim ([`duplicate_claims`]); nothing is registered then.
pub(crate) fn register_catalog() -> Result<(), Vec<DuplicateClaim>> {
    // Calibrates the call clock here too (init and every scrape come here), before most calls.
    let _ = crate::clock::Tick::now();
    let duplicates = duplicate_claims(catalog());
    if !duplicates.is_empty() {
        return Err(duplicates);
    }
    for site in catalog() {
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
