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
use std::fmt::Write as _;

/// Resource attributes Loki indexes as labels: few values each, stable over a process's life.
const INDEXED: &[&str] = &["service.name", "service.namespace", "deployment.environment", "level"];

/// Resource attributes Loki would index by default that change per process: kept as metadata.
const NOT_INDEXED: &[&str] = &["service.instance.id", "service.version", "host.name", "process.pid"];

/// `otel-collector/config.yaml`: OTLP in (gRPC and HTTP), memory limiter, batch, logs to Loki,
/// traces to the tracing backend.
pub(crate) fn collector_config(model: &Model) -> String {
    let options = model.options;
    let mut out = commented_header(model, "OpenTelemetry Collector configuration");
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "# Needs the contrib distribution (otelcol-contrib) for the transform and groupbyattrs processors.
# The service exports to it with OTEL_EXPORTER_OTLP_ENDPOINT=http://<collector>:4318 (or :4317 with
# OTEL_EXPORTER_OTLP_PROTOCOL=grpc).
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318

processors:
  # First in every pipeline: refuses data before the collector runs out of memory, so the
  # service's exporter sees back-pressure (and counts drops) instead of a crashed collector.
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 25
  # Loki indexes resource attributes only: copy the severity into `level` ...
  transform/level:
    error_mode: ignore
    log_statements:
      - context: log
        statements:
          - set(attributes[\"level\"], severity_text) where severity_text != \"\"
  # ... and lift it to the resource, one resource per level.
  groupbyattrs/level:
    keys:
      - level
  batch:
    send_batch_size: 8192
    send_batch_max_size: 16384
    timeout: 2s

exporters:
  otlphttp/loki:
    endpoint: {loki}
  otlp/traces:
    endpoint: {traces}
    tls:
      insecure: {insecure}

service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [memory_limiter, transform/level, groupbyattrs/level, batch]
      exporters: [otlphttp/loki]
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp/traces]
",
        loki = yaml_scalar(&options.collector_loki_otlp_url),
        traces = yaml_scalar(&options.collector_traces_otlp_endpoint),
        insecure = !options.collector_traces_otlp_endpoint.starts_with("https://"),
    );
    out
}

/// `loki/otlp-limits.yaml`: the `limits_config` of Loki 3 for what the collector sends.
pub(crate) fn loki_limits(model: &Model) -> String {
    let mut out = commented_header(model, "Loki limits for OTLP ingestion");
    out.push_str("# Merge into Loki's configuration (or a per-tenant override).\nlimits_config:\n");
    out.push_str("  allow_structured_metadata: true\n  otlp_config:\n    resource_attributes:\n");
    out.push_str("      ignore_defaults: true\n      attributes_config:\n");
    out.push_str("        - action: index_label\n          attributes:\n");
    for attribute in INDEXED {
        let _ = writeln!(out, "            - {attribute}");
    }
    out.push_str("        - action: structured_metadata\n          attributes:\n");
    for attribute in NOT_INDEXED {
        let _ = writeln!(out, "            - {attribute}");
    }
    out
}

/// The generated-file header as YAML comments.
fn commented_header(model: &Model, what: &str) -> String {
    let mut out = String::new();
    for line in model.header(what) {
        let _ = writeln!(out, "# {line}");
    }
    out
}

/// A YAML plain scalar when safe, otherwise double-quoted with escapes.
fn yaml_scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || ":/._-".contains(c))
        && !value.starts_with(['-', ':']);
    if plain { value.to_owned() } else { format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")) }
}

#[cfg(test)]
mod tests {
    use super::yaml_scalar;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(yaml_scalar("http://loki:3100/otlp"), "http://loki:3100/otlp");
        assert_eq!(yaml_scalar("tempo:4317"), "tempo:4317");
        assert_eq!(yaml_scalar("a b\"c"), "\"a b\\\"c\"");
        assert_eq!(yaml_scalar(""), "\"\"");
    }
}
