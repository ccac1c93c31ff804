//! OTLP metrics: every `OTEL_METRIC_EXPORT_INTERVAL` a thread of obs's own renders the
//! exposition a scrape would get, encodes it as one OTLP request and hands it to the same
//! bounded, never-blocking, drop-counted [`ExportQueue`] traces and logs go through; one last push
//! at shutdown, within the deadline. A push is the unit counted in `obs_telemetry_*{signal="metrics"}`.

use crate::error::SetupError;
use crate::metrics::otlp_encode::{self, Times};
use crate::metrics::{ExpositionFormat, render};
use crate::telemetry::export_queue::{Accepted, BatchExporter, ExportQueue};
use crate::telemetry::otlp::{self, Runner};
use crate::telemetry::otlp_config::{Signal, SignalExport};
use crate::telemetry::timestamp::unix_nanos;
use crate::telemetry::worker::join_before;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Pushes metrics until shut down.
#[derive(Debug)]
pub struct MetricsPusher {
    stop: Sender<()>,
    thread: JoinHandle<()>,
    queue: Arc<ExportQueue<ExportMetricsServiceRequest>>,
}

/// When this process started, from `/proc`, in nanoseconds since the epoch.
fn process_start_unix_nanos() -> Option<u64> {
    let seconds = crate::metrics::process::ProcessStats::read().start_time_seconds?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a time after the epoch, in range")]
    let nanos = (seconds * 1e9) as u64;
    Some(nanos)
}

fn any_value(value: &opentelemetry::Value) -> AnyValue {
    let value = match value {
        opentelemetry::Value::Bool(value) => any_value::Value::BoolValue(*value),
        opentelemetry::Value::I64(value) => any_value::Value::IntValue(*value),
        opentelemetry::Value::F64(value) => any_value::Value::DoubleValue(*value),
        other => any_value::Value::StringValue(other.to_string()),
    };
    AnyValue { value: Some(value) }
}

/// The SDK resource (the one spans and log records carry) as OTLP.
fn resource(resource: &opentelemetry_sdk::Resource) -> opentelemetry_proto::tonic::resource::v1::Resource {
    opentelemetry_proto::tonic::resource::v1::Resource {
        attributes: resource
            .iter()
            .map(|(key, value)| KeyValue { key: key.to_string(), value: Some(any_value(value)), ..KeyValue::default() })
            .collect(),
        ..Default::default()
    }
}

impl MetricsPusher {
    /// Starts pushing every `interval` as `settings` say.
    pub fn start(
        settings: &SignalExport,
        interval: Duration,
        runner: &Runner,
        sdk_resource: &opentelemetry_sdk::Resource,
    ) -> Result<Self, SetupError> {
        let pushes = Pushes(otlp::Transport::new(settings, Signal::Metrics, runner)?);
        let queue =
            ExportQueue::start(Signal::Metrics, pushes).map_err(|error| otlp::setup_error(Signal::Metrics, &error))?;
        let queue = Arc::new(queue);
        let resource = resource(sdk_resource);
        // Cumulative series count from the process's start, as `process_start_time_seconds` says.
        let start_unix_nano = process_start_unix_nanos().unwrap_or_else(|| unix_nanos(SystemTime::now()));
        let (stop, stopped) = channel();
        let thread = {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name("obs-metrics-push".to_owned())
                .spawn(move || {
                    let push = || {
                        let times = Times { start_unix_nano, now_unix_nano: unix_nanos(SystemTime::now()) };
                        queue.push(otlp_encode::request(
                            &render(ExpositionFormat::OpenMetrics),
                            resource.clone(),
                            times,
                        ));
                    };
                    loop {
                        match stopped.recv_timeout(interval) {
                            Err(RecvTimeoutError::Timeout) => push(),
                            // Shutdown: the last push. A pusher dropped without one (a failed
                            // `init`) sends nothing more.
                            Ok(()) => break push(),
                            Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                })
                .map_err(|error| otlp::setup_error(Signal::Metrics, &error))?
        };
        Ok(MetricsPusher { stop, thread, queue })
    }

    /// Pushes once more and delivers what is queued, within `deadline`; `false` when some of it
    /// was lost.
    pub fn shutdown(self, deadline: Duration) -> bool {
        let until = Instant::now() + deadline;
        let _ = self.stop.send(());
        // A render held up (by a service's collector) cannot hold shutdown past the deadline.
        join_before(self.thread, until);
        self.queue.shutdown(until.saturating_duration_since(Instant::now()))
    }
}

/// Sends each push to the collector, once: the next push carries the same counts and more.
struct Pushes(otlp::Transport);

impl BatchExporter<ExportMetricsServiceRequest> for Pushes {
    fn export(&mut self, batch: Vec<ExportMetricsServiceRequest>) -> Result<Accepted, String> {
        // Pushes queued while the collector was slow are sent in order (each is a complete
        // picture); the first failure ends the batch, and the queue counts the whole batch lost.
        for request in batch {
            use prost::Message as _;
            // Pushes are counted whole, not by data point: a partial success is a push that arrived.
            self.0.send_once(request.encode_to_vec())?;
        }
        Ok(Accepted::All)
    }

    fn shutdown(&mut self) {}
}
