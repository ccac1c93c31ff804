//! The OpenTelemetry providers the subscriber feeds, the metrics pusher, and their shutdown
//! within one deadline.

use crate::error::SetupError;
use crate::telemetry::otlp_config::OtlpSettings;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::{Duration, Instant};

/// The least time the log writer gets at shutdown to write what is queued.
const LINES_MINIMUM: Duration = Duration::from_millis(500);

/// What must be flushed and stopped when the toolkit shuts down.
#[derive(Debug)]
pub struct Providers {
    /// Spans: always present, since trace ids come from it even without export.
    pub tracer: SdkTracerProvider,
    /// Log records, when logs are exported.
    pub logger: Option<SdkLoggerProvider>,
    /// The span export queue, when spans are exported: call spans go to it directly.
    #[cfg(feature = "_otlp")]
    pub span_export: Option<crate::telemetry::otlp::QueuedSpanProcessor>,
    /// The periodic metrics push, when metrics are exported.
    #[cfg(feature = "_otlp")]
    pub metrics: Option<crate::telemetry::metrics_push::MetricsPusher>,
    /// The toolkit's own runtime, when a signal is exported over gRPC.
    pub runtime: Option<tokio::runtime::Runtime>,
    /// The writer thread of the log lines, when they go to standard output.
    pub lines: Option<std::sync::Arc<crate::telemetry::line_writer::LineQueue>>,
}

impl Providers {
    /// Starts what `otlp` asks for: the tracer provider always (trace ids), its export, the log
    /// export and the metrics push when configured.
    #[cfg_attr(not(feature = "_otlp"), allow(clippy::unnecessary_wraps))]
    pub fn start(otlp: &OtlpSettings, resource: &Resource) -> Result<Self, SetupError> {
        let tracer =
            SdkTracerProvider::builder().with_resource(resource.clone()).with_sampler(otlp.sampler.sdk_sampler());
        #[cfg(feature = "_otlp")]
        {
            use crate::telemetry::otlp::{self, QueuedLogProcessor, QueuedSpanProcessor, Runner};
            use crate::telemetry::otlp_config::OtlpProtocol;
            let uses_grpc = [&otlp.traces, &otlp.logs, &otlp.metrics]
                .into_iter()
                .flatten()
                .any(|signal| signal.protocol == OtlpProtocol::Grpc);
            let runtime = if uses_grpc { Some(otlp::grpc_runtime()?) } else { None };
            let runner = runtime.as_ref().map_or(Runner::Inline, |runtime| Runner::Tokio(runtime.handle().clone()));
            let span_export = match &otlp.traces {
                Some(settings) => Some(QueuedSpanProcessor::start(settings, &runner, resource)?),
                None => None,
            };
            let tracer = match &span_export {
                Some(processor) => tracer.with_span_processor(processor.clone()),
                None => tracer,
            };
            let logger = match &otlp.logs {
                Some(settings) => Some(
                    SdkLoggerProvider::builder()
                        .with_resource(resource.clone())
                        .with_log_processor(QueuedLogProcessor::start(settings, &runner, resource)?)
                        .build(),
                ),
                None => None,
            };
            let metrics = match &otlp.metrics {
                Some(settings) => Some(crate::telemetry::metrics_push::MetricsPusher::start(
                    settings,
                    otlp.metrics_interval,
                    &runner,
                    resource,
                )?),
                None => None,
            };
            Ok(Providers { tracer: tracer.build(), logger, span_export, metrics, runtime, lines: None })
        }
        #[cfg(not(feature = "_otlp"))]
        Ok(Providers { tracer: tracer.build(), logger: None, runtime: None, lines: None })
    }

    /// Exports what is queued now, waiting at most the shutdown timeout; `false` when some of
    /// it could not be delivered in time.
    pub fn flush(&self) -> bool {
        let traces = self.tracer.force_flush().is_ok();
        let logs = self.logger.as_ref().is_none_or(|logger| logger.force_flush().is_ok());
        let lines = self.lines.as_ref().is_none_or(|lines| lines.flush(crate::telemetry::SHUTDOWN_DEADLINE));
        traces && logs && lines
    }

    /// Flushes and stops everything, all within `deadline`; returns what failed to flush.
    pub fn shutdown(self, deadline: Duration) -> Vec<String> {
        let until = Instant::now() + deadline;
        let mut failures = Vec::new();
        // Metrics first, with half the deadline: their last push counts the final requests, and
        // a dead metrics endpoint must leave time for the spans and records.
        #[cfg(feature = "_otlp")]
        if let Some(metrics) = self.metrics {
            if !metrics.shutdown(deadline / 2) {
                failures.push("metrics: the last push was not delivered".to_owned());
            }
        }
        if let Err(error) = self.tracer.shutdown_with_timeout(until.saturating_duration_since(Instant::now())) {
            failures.push(format!("traces: {error}"));
        }
        if let Some(logger) = self.logger {
            if let Err(error) = logger.shutdown_with_timeout(until.saturating_duration_since(Instant::now())) {
                failures.push(format!("logs: {error}"));
            }
        }
        // Last: the lines above (an export's warning) are written too.
        // Standard output is no collector: it gets a moment even when the exports used the deadline.
        if let Some(lines) = self.lines {
            if !lines.shutdown(until.saturating_duration_since(Instant::now()).max(LINES_MINIMUM)) {
                failures.push("log lines: not all were written".to_owned());
            }
        }
        // Not `drop`: dropping a runtime blocks, which panics inside the application's runtime.
        if let Some(runtime) = self.runtime {
            runtime.shutdown_background();
        }
        failures
    }
}
