//! OTLP export settings from the standard `OTEL_*` variables, checked at setup so a bad value is
//! a [`SetupError`] naming the variable instead of a silently dead exporter.
//!
//! No endpoint set means no export and no background work.

use crate::error::SetupError;
use crate::telemetry::config::EnvReader;
use std::time::Duration;

/// The wire protocol of an OTLP exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC, conventionally on port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, conventionally on port 4318 (the specification's default).
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The value as `OTEL_EXPORTER_OTLP_PROTOCOL` spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// A telemetry signal exported over OTLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Log records.
    Logs,
    /// Metrics, pushed periodically.
    Metrics,
}

/// The per-signal forms of the `OTEL_EXPORTER_OTLP_*` variables.
#[derive(Debug)]
struct SignalVars {
    endpoint: &'static str,
    protocol: &'static str,
    headers: &'static str,
    timeout: &'static str,
    compression: &'static str,
    certificate: &'static str,
    client_certificate: &'static str,
    client_key: &'static str,
}

/// Declares the variables of one signal from its upper-case name.
macro_rules! signal_vars {
    ($signal:literal) => {
        SignalVars {
            endpoint: concat!("OTEL_EXPORTER_OTLP_", $signal, "_ENDPOINT"),
            protocol: concat!("OTEL_EXPORTER_OTLP_", $signal, "_PROTOCOL"),
            headers: concat!("OTEL_EXPORTER_OTLP_", $signal, "_HEADERS"),
            timeout: concat!("OTEL_EXPORTER_OTLP_", $signal, "_TIMEOUT"),
            compression: concat!("OTEL_EXPORTER_OTLP_", $signal, "_COMPRESSION"),
            certificate: concat!("OTEL_EXPORTER_OTLP_", $signal, "_CERTIFICATE"),
            client_certificate: concat!("OTEL_EXPORTER_OTLP_", $signal, "_CLIENT_CERTIFICATE"),
            client_key: concat!("OTEL_EXPORTER_OTLP_", $signal, "_CLIENT_KEY"),
        }
    };
}

/// The generic variables, which every signal falls back to.
const GENERIC_VARS: SignalVars = SignalVars {
    endpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_COMPRESSION",
    certificate: "OTEL_EXPORTER_OTLP_CERTIFICATE",
    client_certificate: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    client_key: "OTEL_EXPORTER_OTLP_CLIENT_KEY",
};

impl Signal {
    /// Every signal, in label order.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];

    /// `traces`, `logs` or `metrics`: the OTLP/HTTP path segment and the `signal` label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        let [traces, logs, metrics] = crate::schema::SIGNALS;
        match self {
            Signal::Traces => traces,
            Signal::Logs => logs,
            Signal::Metrics => metrics,
        }
    }

    const fn vars(self) -> &'static SignalVars {
        const TRACES: SignalVars = signal_vars!("TRACES");
        const LOGS: SignalVars = signal_vars!("LOGS");
        const METRICS: SignalVars = signal_vars!("METRICS");
        match self {
            Signal::Traces => &TRACES,
            Signal::Logs => &LOGS,
            Signal::Metrics => &METRICS,
        }
    }
}

/// How export requests are compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed (the specification's default).
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// A file named by a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFile {
    /// The path.
    pub path: std::path::PathBuf,
    /// The variable that named it.
    pub var: &'static str,
}

/// The certificate files of a TLS connection to the collector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// A PEM file of CA certificates trusted besides the built-in roots.
    pub ca: Option<NamedFile>,
    /// The client certificate chain and its private key (PEM) for mutual TLS.
    pub client: Option<(NamedFile, NamedFile)>,
}

/// Where and how one signal is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalExport {
    /// The full URL: for OTLP/HTTP including the `/v1/{signal}` path.
    pub endpoint: String,
    /// The wire protocol.
    pub protocol: OtlpProtocol,
    /// Extra request headers (e.g. an API key), already percent-decoded.
    pub headers: Vec<(String, String)>,
    /// How long one export request may take.
    pub timeout: Duration,
    /// How request bodies are compressed.
    pub compression: Compression,
    /// The certificates of an `https://` endpoint.
    pub tls: TlsFiles,
}

/// Which trace ids are exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerSetting {
    /// Every trace (the default: `parentbased_always_on`).
    ParentBasedAlwaysOn,
    /// No trace unless the caller's was sampled.
    ParentBasedAlwaysOff,
    /// This share of new traces; callers' decisions are kept.
    ParentBasedRatio(f64),
    /// Every trace, whatever the caller decided.
    AlwaysOn,
    /// No trace at all.
    AlwaysOff,
    /// This share of traces, whatever the caller decided.
    Ratio(f64),
}

impl SamplerSetting {
    /// The SDK sampler.
    #[must_use]
    pub fn sdk_sampler(self) -> opentelemetry_sdk::trace::Sampler {
        use opentelemetry_sdk::trace::Sampler;
        match self {
            SamplerSetting::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerSetting::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            SamplerSetting::ParentBasedRatio(ratio) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
            }
            SamplerSetting::AlwaysOn => Sampler::AlwaysOn,
            SamplerSetting::AlwaysOff => Sampler::AlwaysOff,
            SamplerSetting::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        }
    }
}

/// The effective OTLP settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    /// `None` when traces are not exported.
    pub traces: Option<SignalExport>,
    /// `None` when logs are not exported.
    pub logs: Option<SignalExport>,
    /// `None` when metrics are not pushed: only when `OTEL_METRICS_EXPORTER=otlp` or a metrics
    /// endpoint is set, since Prometheus scrapes them by default.
    pub metrics: Option<SignalExport>,
    /// How often metrics are pushed (`OTEL_METRIC_EXPORT_INTERVAL`, default 60 s).
    pub metrics_interval: Duration,
    /// The sampler of new traces.
    pub sampler: SamplerSetting,
    /// `OTEL_SERVICE_NAME`, overriding the name given in code.
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, percent-decoded.
    pub resource_attributes: Vec<(String, String)>,
}

/// What code set, which wins over the environment.
#[derive(Debug, Clone, Default)]
pub struct OtlpOverrides {
    /// `ObsBuilder::otlp_endpoint`: the base endpoint of every signal.
    pub endpoint: Option<String>,
    /// `ObsBuilder::otlp_protocol`.
    pub protocol: Option<OtlpProtocol>,
}

/// The OTLP export timeout of the specification: 10 s.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The metric export interval of the specification: 60 s.
const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_secs(60);

/// What `OTEL_METRICS_EXPORTER` asks for.
enum MetricsExporter {
    Otlp,
    /// `none` or `prometheus`: scraped only.
    NoPush,
    Unset,
}

fn metrics_exporter(env: &EnvReader) -> Result<MetricsExporter, SetupError> {
    let Some(value) = env("OTEL_METRICS_EXPORTER")? else { return Ok(MetricsExporter::Unset) };
    match value.trim() {
        "" => Ok(MetricsExporter::Unset),
        "otlp" => Ok(MetricsExporter::Otlp),
        "none" | "prometheus" => Ok(MetricsExporter::NoPush),
        _ => {
            Err(invalid("OTEL_METRICS_EXPORTER", &value, "`otlp`, `prometheus` (scraped only, the default) or `none`"))
        }
    }
}

/// Reads every `OTEL_*` variable the toolkit honours.
pub fn otlp_settings(env: &EnvReader, overrides: &OtlpOverrides) -> Result<OtlpSettings, SetupError> {
    let settings = parse_settings(env, overrides)?;
    for (signal, export) in
        [(Signal::Traces, &settings.traces), (Signal::Logs, &settings.logs), (Signal::Metrics, &settings.metrics)]
    {
        if let Some(export) = export {
            compiled(&export.endpoint, export.protocol, signal)?;
        }
    }
    Ok(settings)
}

/// The settings as the variables and the code say, whether or not this build can act on them.
fn parse_settings(env: &EnvReader, overrides: &OtlpOverrides) -> Result<OtlpSettings, SetupError> {
    let disabled = sdk_disabled(env)?;
    let sampler = sampler(env)?;
    let service_name = match env("OTEL_SERVICE_NAME")? {
        Some(name) if name.trim().is_empty() => {
            return Err(invalid("OTEL_SERVICE_NAME", &name, "a non-empty service name"));
        }
        other => other.map(|name| name.trim().to_owned()),
    };
    let resource_attributes = match env("OTEL_RESOURCE_ATTRIBUTES")? {
        Some(text) => key_value_list(&text, "OTEL_RESOURCE_ATTRIBUTES")?,
        None => Vec::new(),
    };
    let metrics_interval = match env("OTEL_METRIC_EXPORT_INTERVAL")? {
        Some(text) => {
            milliseconds(&text, "OTEL_METRIC_EXPORT_INTERVAL").ok().filter(|interval| !interval.is_zero()).ok_or_else(
                || invalid("OTEL_METRIC_EXPORT_INTERVAL", &text, "a positive number of milliseconds, e.g. 60000"),
            )?
        }
        None => DEFAULT_METRICS_INTERVAL,
    };
    let (traces, logs, metrics) = if disabled {
        (None, None, None)
    } else {
        let metrics = match metrics_exporter(env)? {
            MetricsExporter::Otlp => signal_export(env, overrides, Signal::Metrics)?,
            // A metrics endpoint of its own says push, whatever the generic endpoint does.
            MetricsExporter::Unset => match env(Signal::Metrics.vars().endpoint)? {
                Some(url) if !url.trim().is_empty() => signal_export(env, overrides, Signal::Metrics)?,
                _ => None,
            },
            MetricsExporter::NoPush => None,
        };
        (signal_export(env, overrides, Signal::Traces)?, signal_export(env, overrides, Signal::Logs)?, metrics)
    };
    Ok(OtlpSettings { traces, logs, metrics, metrics_interval, sampler, service_name, resource_attributes })
}

fn invalid(var: &'static str, value: &str, expected: &'static str) -> SetupError {
    SetupError::InvalidEnv { var, value: value.to_owned(), expected }
}

fn sdk_disabled(env: &EnvReader) -> Result<bool, SetupError> {
    match env("OTEL_SDK_DISABLED")?.as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
        Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
        Some(value) => Err(invalid("OTEL_SDK_DISABLED", value, "`true` or `false`")),
    }
}

fn sampler(env: &EnvReader) -> Result<SamplerSetting, SetupError> {
    let name = env("OTEL_TRACES_SAMPLER")?;
    let argument = env("OTEL_TRACES_SAMPLER_ARG")?;
    let ratio = || -> Result<f64, SetupError> {
        let Some(text) = argument.as_deref() else { return Ok(1.0) };
        match text.trim().parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
            _ => Err(invalid("OTEL_TRACES_SAMPLER_ARG", text, "a sampling ratio between 0 and 1, e.g. 0.25")),
        }
    };
    Ok(match name.as_deref().map(str::trim) {
        None | Some("" | "parentbased_always_on") => SamplerSetting::ParentBasedAlwaysOn,
        Some("parentbased_always_off") => SamplerSetting::ParentBasedAlwaysOff,
        Some("parentbased_traceidratio") => SamplerSetting::ParentBasedRatio(ratio()?),
        Some("always_on") => SamplerSetting::AlwaysOn,
        Some("always_off") => SamplerSetting::AlwaysOff,
        Some("traceidratio") => SamplerSetting::Ratio(ratio()?),
        Some(other) => {
            return Err(invalid(
                "OTEL_TRACES_SAMPLER",
                other,
                "one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
            ));
        }
    })
}

fn protocol(env: &EnvReader, signal: Signal, overrides: &OtlpOverrides) -> Result<OtlpProtocol, SetupError> {
    if let Some(protocol) = overrides.protocol {
        return Ok(protocol);
    }
    let Some((var, value)) = first_set(env, signal.vars().protocol, GENERIC_VARS.protocol)? else {
        return Ok(OtlpProtocol::HttpProtobuf);
    };
    match value.trim() {
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        "http/json" => Err(invalid(var, &value, "`grpc` or `http/protobuf` (http/json is not supported)")),
        _ => Err(invalid(var, &value, "`grpc` or `http/protobuf`")),
    }
}

fn signal_export(
    env: &EnvReader,
    overrides: &OtlpOverrides,
    signal: Signal,
) -> Result<Option<SignalExport>, SetupError> {
    let protocol = protocol(env, signal, overrides)?;
    // A signal-specific endpoint is used as given; a base endpoint gets the signal's path for HTTP.
    let endpoint = if let Some(base) = &overrides.endpoint {
        Some(with_signal_path(&checked_url("otlp_endpoint", base)?, protocol, signal))
    } else if let Some(url) = env(signal.vars().endpoint)?.filter(|url| !url.trim().is_empty()) {
        Some(checked_url(signal.vars().endpoint, &url)?)
    } else if let Some(base) = env("OTEL_EXPORTER_OTLP_ENDPOINT")?.filter(|url| !url.trim().is_empty()) {
        Some(with_signal_path(&checked_url("OTEL_EXPORTER_OTLP_ENDPOINT", &base)?, protocol, signal))
    } else {
        None
    };
    let Some(endpoint) = endpoint else { return Ok(None) };
    let vars = signal.vars();
    let headers = match first_set(env, vars.headers, GENERIC_VARS.headers)? {
        Some((var, text)) => key_value_list(&text, var)?,
        None => Vec::new(),
    };
    let timeout = match first_set(env, vars.timeout, GENERIC_VARS.timeout)? {
        Some((var, text)) => milliseconds(&text, var)?,
        None => DEFAULT_TIMEOUT,
    };
    let compression = match first_set(env, vars.compression, GENERIC_VARS.compression)? {
        None => Compression::None,
        Some((var, text)) => match text.trim() {
            "" | "none" => Compression::None,
            "gzip" => Compression::Gzip,
            _ => return Err(invalid(var, &text, "`gzip` or `none`")),
        },
    };
    let file = |signal_var, generic_var| -> Result<Option<NamedFile>, SetupError> {
        Ok(first_set(env, signal_var, generic_var)?
            .filter(|(_, path)| !path.trim().is_empty())
            .map(|(var, path)| NamedFile { path: path.trim().into(), var }))
    };
    let ca = file(vars.certificate, GENERIC_VARS.certificate)?;
    let client = match (
        file(vars.client_certificate, GENERIC_VARS.client_certificate)?,
        file(vars.client_key, GENERIC_VARS.client_key)?,
    ) {
        (None, None) => None,
        (Some(certificate), Some(key)) => Some((certificate, key)),
        (Some(alone), None) | (None, Some(alone)) => {
            return Err(invalid(
                alone.var,
                &alone.path.display().to_string(),
                "a client certificate and its key together (…_CLIENT_CERTIFICATE and …_CLIENT_KEY), or neither",
            ));
        }
    };
    Ok(Some(SignalExport { endpoint, protocol, headers, timeout, compression, tls: TlsFiles { ca, client } }))
}

/// Whether `endpoint` connects over TLS.
pub(crate) fn is_https(endpoint: &str) -> bool {
    endpoint.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// Fails when this build cannot export `signal` to `endpoint` over `protocol`: a missing
/// feature is a setup error naming it, never an exporter that silently loses everything.
fn compiled(endpoint: &str, protocol: OtlpProtocol, signal: Signal) -> Result<(), SetupError> {
    let feature = match protocol {
        OtlpProtocol::Grpc => (!cfg!(feature = "otlp-grpc")).then_some("otlp-grpc"),
        OtlpProtocol::HttpProtobuf => (!cfg!(feature = "otlp-http")).then_some("otlp-http"),
    };
    match feature.or((is_https(endpoint) && !cfg!(feature = "tls")).then_some("tls")) {
        Some(feature) => Err(SetupError::NotCompiled {
            what: format!("{} export of {} to {endpoint}", protocol.as_str(), signal.as_str()),
            feature,
        }),
        None => Ok(()),
    }
}

/// The signal's own variable when set, else the generic one, with the name of the one used.
fn first_set(
    env: &EnvReader,
    signal_var: &'static str,
    generic_var: &'static str,
) -> Result<Option<(&'static str, String)>, SetupError> {
    if let Some(value) = env(signal_var)? {
        return Ok(Some((signal_var, value)));
    }
    Ok(env(generic_var)?.map(|value| (generic_var, value)))
}

fn checked_url(var: &'static str, text: &str) -> Result<String, SetupError> {
    let trimmed = text.trim();
    let parsed: http::Uri =
        trimmed.parse().map_err(|_| invalid(var, text, "an http:// or https:// URL such as http://127.0.0.1:4318"))?;
    match (parsed.scheme_str(), parsed.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(trimmed.to_owned()),
        _ => Err(invalid(var, text, "an http:// or https:// URL such as http://127.0.0.1:4318")),
    }
}

fn with_signal_path(base: &str, protocol: OtlpProtocol, signal: Signal) -> String {
    match protocol {
        OtlpProtocol::Grpc => base.to_owned(),
        OtlpProtocol::HttpProtobuf => format!("{}/v1/{}", base.trim_end_matches('/'), signal.as_str()),
    }
}

fn milliseconds(text: &str, var: &'static str) -> Result<Duration, SetupError> {
    text.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| invalid(var, text, "a whole number of milliseconds, e.g. 10000"))
}

/// `key1=value1,key2=value2` with percent-encoded values (W3C baggage octets), as the
/// specification defines `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`.
fn key_value_list(text: &str, var: &'static str) -> Result<Vec<(String, String)>, SetupError> {
    const EXPECTED: &str = "comma-separated key=value pairs, e.g. `team=payments,deployment.environment=prod`";
    let mut pairs = Vec::new();
    for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(invalid(var, text, EXPECTED));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(invalid(var, text, EXPECTED));
        }
        let value = percent_decode(value.trim()).ok_or_else(|| invalid(var, text, EXPECTED))?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> EnvReader {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        Box::new(move |name| Ok(pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())))
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<OtlpSettings, SetupError> {
        parse_settings(&env_of(pairs), &OtlpOverrides::default())
    }

    #[test]
    fn a_protocol_or_tls_the_build_leaves_out_is_an_error_naming_its_feature() {
        let feature = |result: Result<(), SetupError>| match result {
            Ok(()) => None,
            Err(SetupError::NotCompiled { feature, .. }) => Some(feature),
            Err(other) => panic!("{other}"),
        };
        let grpc = feature(compiled("http://collector:4317", OtlpProtocol::Grpc, Signal::Traces));
        assert_eq!(grpc, (!cfg!(feature = "otlp-grpc")).then_some("otlp-grpc"));
        let https = feature(compiled("https://collector:4318/v1/logs", OtlpProtocol::HttpProtobuf, Signal::Logs));
        let expected = if !cfg!(feature = "otlp-http") {
            Some("otlp-http")
        } else if !cfg!(feature = "tls") {
            Some("tls")
        } else {
            None
        };
        assert_eq!(https, expected);
    }

    fn invalid_var(pairs: &[(&str, &str)]) -> &'static str {
        match settings(pairs) {
            Err(SetupError::InvalidEnv { var, .. }) => var,
            other => panic!("expected an invalid variable, got {other:?}"),
        }
    }

    #[test]
    fn nothing_set_exports_nothing() {
        let settings = settings(&[]).expect("defaults");
        assert_eq!((settings.traces, settings.logs), (None, None));
        assert_eq!(settings.sampler, SamplerSetting::ParentBasedAlwaysOn);
    }

    #[test]
    fn base_endpoint_gets_signal_paths_for_http_only() {
        let http = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).expect("valid");
        assert_eq!(http.traces.expect("traces").endpoint, "http://collector:4318/v1/traces");
        assert_eq!(http.logs.expect("logs").endpoint, "http://collector:4318/v1/logs");
        let grpc = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .expect("valid");
        let traces = grpc.traces.expect("traces");
        assert_eq!((traces.endpoint.as_str(), traces.protocol), ("http://collector:4317", OtlpProtocol::Grpc));
    }

    #[test]
    fn signal_variables_win_over_generic_ones() {
        let settings = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4318/custom/logs"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%20value,x-team=core"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
        ])
        .expect("valid");
        let logs = settings.logs.expect("logs");
        assert_eq!(logs.endpoint, "http://logs:4318/custom/logs");
        assert_eq!(logs.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(logs.headers, vec![("api-key".into(), "secret value".into()), ("x-team".into(), "core".into())]);
        let traces = settings.traces.expect("traces");
        assert_eq!((traces.protocol, traces.timeout), (OtlpProtocol::Grpc, Duration::from_millis(2500)));
        assert_eq!(logs.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn code_overrides_the_environment() {
        let overrides = OtlpOverrides { endpoint: Some("http://code:4317".into()), protocol: Some(OtlpProtocol::Grpc) };
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]);
        let settings = parse_settings(&env, &overrides).expect("valid");
        let traces = settings.traces.expect("traces");
        assert_eq!((traces.endpoint.as_str(), traces.protocol), ("http://code:4317", OtlpProtocol::Grpc));
    }

    #[test]
    fn sdk_disabled_turns_export_off() {
        let settings =
            settings(&[("OTEL_SDK_DISABLED", "TRUE"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).expect("ok");
        assert_eq!((settings.traces, settings.logs), (None, None));
    }

    #[test]
    fn samplers_and_resources_parse() {
        let settings = settings(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_SERVICE_NAME", "checkout"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=pay%2Cments"),
        ])
        .expect("valid");
        assert_eq!(settings.sampler, SamplerSetting::ParentBasedRatio(0.25));
        assert_eq!(settings.service_name.as_deref(), Some("checkout"));
        assert_eq!(
            settings.resource_attributes,
            vec![("deployment.environment".into(), "prod".into()), ("team".into(), "pay,ments".into())]
        );
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        assert_eq!(invalid_var(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]), "OTEL_EXPORTER_OTLP_ENDPOINT");
        assert_eq!(
            invalid_var(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x")]),
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        );
        assert_eq!(
            invalid_var(&[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "not a url")]),
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
        );
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        assert_eq!(invalid_var(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")]), "OTEL_EXPORTER_OTLP_PROTOCOL");
        assert_eq!(
            invalid_var(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]),
            "OTEL_EXPORTER_OTLP_PROTOCOL"
        );
        assert_eq!(
            invalid_var(&[endpoint, ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpcs")]),
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
        );
        assert_eq!(invalid_var(&[endpoint, ("OTEL_EXPORTER_OTLP_HEADERS", "novalue")]), "OTEL_EXPORTER_OTLP_HEADERS");
        assert_eq!(invalid_var(&[endpoint, ("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz")]), "OTEL_EXPORTER_OTLP_HEADERS");
        assert_eq!(
            invalid_var(&[endpoint, ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=v")]),
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
        );
        assert_eq!(invalid_var(&[endpoint, ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]), "OTEL_EXPORTER_OTLP_TIMEOUT");
        assert_eq!(invalid_var(&[("OTEL_SERVICE_NAME", "  ")]), "OTEL_SERVICE_NAME");
        assert_eq!(invalid_var(&[("OTEL_RESOURCE_ATTRIBUTES", "team")]), "OTEL_RESOURCE_ATTRIBUTES");
        assert_eq!(invalid_var(&[("OTEL_TRACES_SAMPLER", "sometimes")]), "OTEL_TRACES_SAMPLER");
        assert_eq!(
            invalid_var(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5")]),
            "OTEL_TRACES_SAMPLER_ARG"
        );
        assert_eq!(invalid_var(&[("OTEL_SDK_DISABLED", "yes")]), "OTEL_SDK_DISABLED");
    }
}
