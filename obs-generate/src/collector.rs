//! The OpenTelemetry Collector configuration between the service and its backends, and the Loki
//! limits that make Loki index the right attributes.
//!
//! Logs go to Loki's native OTLP endpoint through `otlphttp`; traces to an OTLP tracing backend
//! (Tempo by default). Loki turns only resource attributes into index labels, so the record's
//! severity is copied into a `level` attribute and lifted to the resource by `groupbyattrs`: the
//! labels are then `service_name`, `service_namespace`, `deployment_environment` and `level`, all
//! bounded. Per-process and per-record values (instance id, pid, trace id) stay structured
//! metadata: searchable, never a stream of their own.

use crate::model::Model;
use crate::tree::{Node, NotFinite, map, strings};

/// Resource attributes Loki indexes as labels: few values each, stable over a process's life.
const INDEXED: &[&str] = &["service.name", "service.namespace", "deployment.environment", "level"];

/// Resource attributes Loki would index by default that change per process: kept as metadata.
const NOT_INDEXED: &[&str] = &["service.instance.id", "service.version", "host.name", "process.pid"];

/// `otel-collector/config.yaml`: OTLP in (gRPC and HTTP), memory limiter, batch, logs to Loki,
/// traces to the tracing backend.
pub(crate) fn collector_config(model: &Model) -> Result<String, NotFinite> {
    let options = model.options;
    let mut header = model.header("OpenTelemetry Collector configuration");
    header.extend(
        [
            "Needs the contrib distribution (otelcol-contrib) for the transform and groupbyattrs processors.",
            "The service exports to it with OTEL_EXPORTER_OTLP_ENDPOINT=http://<collector>:4318 (or :4317 with",
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc).",
            "memory_limiter comes first in every pipeline: it refuses data before the collector runs out of",
            "memory, so the service's exporter sees back-pressure (and counts drops) instead of a crashed collector.",
            "Loki indexes resource attributes only: transform/level copies the severity into `level`, and",
            "groupbyattrs/level lifts it to the resource, one resource per level.",
        ]
        .map(str::to_owned),
    );
    let endpoint = |address: &str| map([("endpoint", address.into())]);
    let pipeline = |processors: &[&str], exporter: &str| {
        map([("receivers", strings(["otlp"])), ("processors", strings(processors)), ("exporters", strings([exporter]))])
    };
    let document = map([
        (
            "receivers",
            map([(
                "otlp",
                map([("protocols", map([("grpc", endpoint("0.0.0.0:4317")), ("http", endpoint("0.0.0.0:4318"))]))]),
            )]),
        ),
        ("processors", processors()),
        (
            "exporters",
            map([
                ("otlphttp/loki", endpoint(&options.collector_loki_otlp_url)),
                (
                    "otlp/traces",
                    map([
                        ("endpoint", options.collector_traces_otlp_endpoint.as_str().into()),
                        (
                            "tls",
                            map([(
                                "insecure",
                                (!options.collector_traces_otlp_endpoint.starts_with("https://")).into(),
                            )]),
                        ),
                    ]),
                ),
            ]),
        ),
        (
            "service",
            map([(
                "pipelines",
                map([
                    (
                        "logs",
                        pipeline(
                            &["memory_limiter", "transform/level", "groupbyattrs/level", "batch"],
                            "otlphttp/loki",
                        ),
                    ),
                    ("traces", pipeline(&["memory_limiter", "batch"], "otlp/traces")),
                ]),
            )]),
        ),
    ]);
    document.to_yaml(&header)
}

/// The processors: memory limiter, the severity lifted to a `level` resource attribute, batch.
fn processors() -> Node {
    map([
        (
            "memory_limiter",
            map([
                ("check_interval", "1s".into()),
                ("limit_percentage", Node::Int(80)),
                ("spike_limit_percentage", Node::Int(25)),
            ]),
        ),
        (
            "transform/level",
            map([
                ("error_mode", "ignore".into()),
                (
                    "log_statements",
                    Node::Seq(vec![map([
                        ("context", "log".into()),
                        (
                            "statements",
                            strings([r#"set(attributes["level"], severity_text) where severity_text != """#]),
                        ),
                    ])]),
                ),
            ]),
        ),
        ("groupbyattrs/level", map([("keys", strings(["level"]))])),
        (
            "batch",
            map([
                ("send_batch_size", Node::Int(8192)),
                ("send_batch_max_size", Node::Int(16384)),
                ("timeout", "2s".into()),
            ]),
        ),
    ])
}

/// `loki/otlp-limits.yaml`: the `limits_config` of Loki 3 for what the collector sends.
pub(crate) fn loki_limits(model: &Model) -> Result<String, NotFinite> {
    let mut header = model.header("Loki limits for OTLP ingestion");
    header.push("Merge into Loki's configuration (or a per-tenant override).".to_owned());
    let rule =
        |action: &str, attributes: &[&str]| map([("action", action.into()), ("attributes", strings(attributes))]);
    let document = map([(
        "limits_config",
        map([
            ("allow_structured_metadata", true.into()),
            (
                "otlp_config",
                map([(
                    "resource_attributes",
                    map([
                        ("ignore_defaults", true.into()),
                        (
                            "attributes_config",
                            Node::Seq(vec![rule("index_label", INDEXED), rule("structured_metadata", NOT_INDEXED)]),
                        ),
                    ]),
                )]),
            ),
        ]),
    )]);
    document.to_yaml(&header)
}
