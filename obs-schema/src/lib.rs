//! Every name a user queries, in one place: metric names, label names, the closed sets of label
//! values, the `le` spelling and the default buckets. The runtime writes these, the generator
//! (`obs-generate`) reads them, so a dashboard or an alert cannot name a series the code does not
//! produce; the macro reads the default buckets. Renaming anything here is a breaking change for every user's queries.
//!
//! Use it as `obs_runtime::schema` (or `obs_schema` directly, as the macro and the generator do):
//!
//! ```
//! use obs_schema as schema;
//!
//! let query = format!("sum(rate({}[5m]))", schema::HTTP_SERVER_REQUEST_DURATION.count);
//! assert_eq!(query, "sum(rate(http_server_request_duration_seconds_count[5m]))");
//! assert_eq!(schema::le_value(1.0), "1.0");
//! ```

/// One metric family: the name queried, and how it is registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// The name as exposed and queried (`http_server_request_duration_seconds`), without the
    /// `_bucket`/`_count`/`_sum` of a histogram's series (see [`Histogram`]); a counter's
    /// includes `_total`.
    pub name: &'static str,
    /// The name before its unit and `_total`, as prometheus-client registers it.
    pub stem: &'static str,
    /// The unit suffix (`seconds`, `bytes`), if any.
    pub unit: Option<&'static str>,
    /// The `# HELP` text.
    pub help: &'static str,
}

/// A histogram family: its [`Metric`] and the names of its three series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// The family.
    pub metric: Metric,
    /// `<name>_count`: the number of calls.
    pub count: &'static str,
    /// `<name>_bucket`: the cumulative buckets, by [`LE`].
    pub bucket: &'static str,
    /// `<name>_sum`: the total seconds.
    pub sum: &'static str,
}

/// A duration histogram in seconds, its series names derived from its one name literal.
macro_rules! seconds_histogram {
    ($name:literal, stem: $stem:literal, help: $help:literal) => {
        Histogram {
            metric: Metric { name: $name, stem: $stem, unit: Some("seconds"), help: $help },
            count: concat!($name, "_count"),
            bucket: concat!($name, "_bucket"),
            sum: concat!($name, "_sum"),
        }
    };
}

/// Duration of each call of an `#[observed(endpoint = ...)]` function; labels
/// [`HTTP_REQUEST_METHOD`], [`HTTP_ROUTE`], [`HTTP_RESPONSE_STATUS_CODE`] (when known),
/// [`RPC_GRPC_STATUS_CODE`] (gRPC methods), [`ERROR_TYPE`].
pub const HTTP_SERVER_REQUEST_DURATION: Histogram = seconds_histogram!(
    "http_server_request_duration_seconds",
    stem: "http_server_request_duration",
    help: "Duration of HTTP server requests handled by #[observed] functions."
);

/// Declares each metric as a constant, one line each: name, registration stem, unit, help.
macro_rules! metrics {
    ($($(#[$doc:meta])* $id:ident = $name:literal, stem $stem:literal, unit $unit:expr, help $help:literal;)*) => {
        $($(#[$doc])* pub const $id: Metric = Metric { name: $name, stem: $stem, unit: $unit, help: $help };)*
    };
}

metrics! {
    /// Calls in flight; labels [`HTTP_REQUEST_METHOD`], [`HTTP_ROUTE`].
    HTTP_SERVER_ACTIVE_REQUESTS = "http_server_active_requests", stem "http_server_active_requests", unit None, help "Number of HTTP server requests in flight in #[observed] functions.";
    /// The service's name and version; labels [`SERVICE_NAME`], [`SERVICE_VERSION`], [`OBS_VERSION`].
    OBS_BUILD_INFO = "obs_build_info", stem "obs_build", unit None, help "Build and service information of this process.";
    /// Spans, log records and metric pushes the OTLP export delivered; label [`SIGNAL`].
    OBS_TELEMETRY_EXPORTED = "obs_telemetry_exported_total", stem "obs_telemetry_exported", unit None, help "Spans, log records and metric pushes delivered to the OTLP endpoint.";
    /// Spans, log records and metric pushes the OTLP export lost; labels [`SIGNAL`], [`REASON`].
    OBS_TELEMETRY_DROPPED = "obs_telemetry_dropped_total", stem "obs_telemetry_dropped", unit None, help "Spans, log records and metric pushes lost: the export queue was full, the export failed, or shutdown's deadline passed.";
    /// CPU time, from `/proc`.
    PROCESS_CPU_SECONDS = "process_cpu_seconds_total", stem "process_cpu", unit Some("seconds"), help "Total user and system CPU time spent in seconds.";
    /// Resident memory.
    PROCESS_RESIDENT_MEMORY = "process_resident_memory_bytes", stem "process_resident_memory", unit Some("bytes"), help "Resident memory size in bytes.";
    /// Virtual memory.
    PROCESS_VIRTUAL_MEMORY = "process_virtual_memory_bytes", stem "process_virtual_memory", unit Some("bytes"), help "Virtual memory size in bytes.";
    /// Open file descriptors.
    PROCESS_OPEN_FDS = "process_open_fds", stem "process_open_fds", unit None, help "Number of open file descriptors.";
    /// The file descriptor limit.
    PROCESS_MAX_FDS = "process_max_fds", stem "process_max_fds", unit None, help "Maximum number of open file descriptors.";
    /// OS threads.
    PROCESS_THREADS = "process_threads", stem "process_threads", unit None, help "Number of OS threads in the process.";
    /// Start time, seconds since the epoch.
    PROCESS_START_TIME = "process_start_time_seconds", stem "process_start_time", unit Some("seconds"), help "Start time of the process since unix epoch in seconds.";
}

/// Duration of each call of an `#[observed(operation = ...)]` function; labels [`OPERATION`],
/// [`ERROR_TYPE`].
pub const OPERATION_DURATION: Histogram = seconds_histogram!(
    "operation_duration_seconds",
    stem: "operation_duration",
    help: "Duration of internal operations run by #[observed(operation = ...)] functions."
);

/// The HTTP method, upper case.
pub const HTTP_REQUEST_METHOD: &str = "http_request_method";
/// The route template, never the concrete path.
pub const HTTP_ROUTE: &str = "http_route";
/// The HTTP status code, when the return value reveals one.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http_response_status_code";
/// The gRPC status code of a gRPC method (`0` to `16`).
pub const RPC_GRPC_STATUS_CODE: &str = "rpc_grpc_status_code";
/// Empty on success; the failure's class otherwise.
pub const ERROR_TYPE: &str = "error_type";
/// The operation name.
pub const OPERATION: &str = "operation";
/// A histogram bucket's upper bound, spelled by [`le_value`].
pub const LE: &str = "le";
/// `traces`, `logs` or `metrics`: one of [`SIGNALS`].
pub const SIGNAL: &str = "signal";
/// Why telemetry was lost: one of [`DROP_REASONS`].
pub const REASON: &str = "reason";
/// The service name on [`OBS_BUILD_INFO`].
pub const SERVICE_NAME: &str = "service_name";
/// The service version on [`OBS_BUILD_INFO`].
pub const SERVICE_VERSION: &str = "service_version";
/// The obs version on [`OBS_BUILD_INFO`].
pub const OBS_VERSION: &str = "obs_version";

/// The [`HTTP_ROUTE`] of a request no route of the router matched (recorded by the request
/// layer): one value for all of them, never the raw path, so the label stays bounded.
pub const UNMATCHED_ROUTE: &str = "(unmatched)";
/// The [`HTTP_REQUEST_METHOD`] of a request whose method is not one of RFC 9110's or PATCH, as
/// the OpenTelemetry HTTP conventions write it.
pub const OTHER_METHOD: &str = "_OTHER";

/// The [`ERROR_TYPE`] of a call that panicked.
pub const ERROR_TYPE_PANIC: &str = "panic";
/// The [`ERROR_TYPE`] of a future dropped before it completed.
pub const ERROR_TYPE_CANCELLED: &str = "cancelled";

/// The [`SIGNAL`] values, in label order.
pub const SIGNALS: [&str; 3] = ["traces", "logs", "metrics"];

/// The [`REASON`] values, in label order: the queue was full (the collector did not keep up),
/// the export request failed or timed out, or still queued when shutdown's deadline passed.
pub const DROP_REASONS: [&str; 3] = ["queue_full", "export_failed", "shutdown"];

/// The `outcome` field of the per-call log event: `success`, `client_error` or `failure`.
pub const OUTCOMES: [&str; 3] = ["success", "client_error", "failure"];

/// The default duration buckets in seconds: the OpenTelemetry HTTP semantic conventions' advice.
pub const DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/// The `le` label value of a bucket bound, the same in both formats: the OpenMetrics canonical
/// number, which is what Prometheus 3 normalizes `le` to on ingestion and what Go's client writes
/// in OpenMetrics. Go's `strconv.FormatFloat(bound, 'g', -1, 64)` (shortest digits, an exponent
/// below 1e-4 and from 1e6 on: `5e-05`, `1e+06`), with `.0` appended when it has neither a `.`
/// nor an exponent: `0.25`, `1.0`, `10.0`, `+Inf`.
#[must_use]
pub fn le_value(bound: f64) -> String {
    if bound.is_nan() {
        return "NaN".to_owned();
    }
    if bound.is_infinite() {
        return if bound > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let magnitude = bound.abs();
    let mut text = if magnitude == 0.0 || (1e-4..1e6).contains(&magnitude) {
        // Rust's `Display` prints the shortest round-trip digits without an exponent.
        format!("{bound}")
    } else {
        // `{:e}` prints the same digits as `1.5e-5`; Go writes the exponent signed, two digits at least.
        let scientific = format!("{bound:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        format!("{mantissa}e{exponent:+03}")
    };
    if !text.contains(['.', 'e']) {
        text.push_str(".0");
    }
    text
}
