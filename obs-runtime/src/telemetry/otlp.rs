//! OTLP export of spans and log records through the bounded [`ExportQueue`]s, behind processors
//! that never block the application: over HTTP/protobuf encoded and posted by obs (`otlp_body`,
//! `otlp_http`), over gRPC by the SDK's exporters.

use crate::error::SetupError;
use crate::telemetry::export_queue::{Accepted, BatchExporter, ExportQueue};
#[cfg(feature = "otlp-http")]
use crate::telemetry::otlp_body::EncodedItem;
use crate::telemetry::otlp_config::{OtlpProtocol, Signal, SignalExport};
use opentelemetry::Context;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use std::future::Future;
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::time::Duration;

/// Runs an exporter's future on the export worker thread.
#[derive(Clone, Debug)]
pub enum Runner {
    /// Polls on the calling thread: for the HTTP exporter, whose client does its own I/O.
    Inline,
    /// On the toolkit's own Tokio runtime: tonic's channel needs its reactor.
    Tokio(tokio::runtime::Handle),
}

impl Runner {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self {
            Runner::Inline => block_on(future),
            Runner::Tokio(handle) => handle.block_on(future),
        }
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// A small runtime of the toolkit's own for gRPC export, so export works whatever runtime (or
/// none) the application uses, and stops with the guard.
pub fn grpc_runtime() -> Result<tokio::runtime::Runtime, SetupError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("obs-otlp-grpc")
        .enable_all()
        .build()
        .map_err(|source| SetupError::ExportSetup { signal: "traces", reason: source.to_string() })
}

/// Retries are few and short: a batch waiting on retries holds the queue behind it.
#[cfg(feature = "otlp-grpc")]
fn retry_policy() -> opentelemetry_otlp::RetryPolicy {
    opentelemetry_otlp::RetryPolicy::recommended()
        .with_max_retries(2)
        .with_initial_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1))
}

pub(crate) fn setup_error(signal: Signal, error: &impl std::fmt::Display) -> SetupError {
    SetupError::ExportSetup { signal: signal.as_str(), reason: error.to_string() }
}

/// The request headers of `settings` as HTTP headers, checked.
pub(crate) fn header_map(headers: &[(String, String)], signal: Signal) -> Result<http::HeaderMap, SetupError> {
    let mut map = http::HeaderMap::new();
    for (key, value) in headers {
        let name = http::HeaderName::from_bytes(key.as_bytes())
            .map_err(|error| setup_error(signal, &format!("header name {key:?}: {error}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|error| setup_error(signal, &format!("header value for {key}: {error}")))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// The blocking HTTP client of one signal's OTLP/HTTP export, with its TLS settings.
#[cfg(feature = "otlp-http")]
pub(crate) fn http_client(settings: &SignalExport, signal: Signal) -> Result<reqwest::blocking::Client, SetupError> {
    #[cfg(feature = "tls")]
    let tls = crate::telemetry::otlp_tls::TlsMaterial::load(&settings.tls)?.rustls_config()?;
    let timeout = settings.timeout;
    // Built on a thread of its own: reqwest's blocking client may not be built inside an async
    // runtime, and `init` may be called from one.
    std::thread::spawn(move || {
        let builder = reqwest::blocking::Client::builder().timeout(timeout);
        #[cfg(feature = "tls")]
        let builder = builder.tls_backend_preconfigured(tls);
        builder.build()
    })
    .join()
    .map_err(|_| setup_error(signal, &"building the HTTP client panicked"))?
    .map_err(|error| setup_error(signal, &error))
}

/// The channel of one signal's OTLP/gRPC export, TLS included for an `https://` endpoint; to be
/// made inside the toolkit's runtime.
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_channel(settings: &SignalExport, signal: Signal) -> Result<tonic::transport::Channel, SetupError> {
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut endpoint = tonic::transport::Endpoint::from_shared(settings.endpoint.clone())
        .map_err(|error| setup_error(signal, &error))?
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout);
    #[cfg(feature = "tls")]
    if crate::telemetry::otlp_config::is_https(&settings.endpoint) {
        let tls = crate::telemetry::otlp_tls::TlsMaterial::load(&settings.tls)?.tonic_config();
        endpoint = endpoint.tls_config(tls).map_err(|error| setup_error(signal, &error))?;
    }
    Ok(endpoint.connect_lazy())
}

/// Builds an exporter of `settings` with `$builder` (`SpanExporter::builder()` or
/// `LogExporter::builder()`, whose configuration methods are alike but not a shared trait);
/// for gRPC inside the toolkit's runtime, which tonic needs. OTLP/HTTP is obs's own
/// (`EncodedBatches`): only gRPC is built here.
macro_rules! build_exporter {
    ($builder:expr, $settings:expr, $runner:expr, $signal:expr) => {{
        let (settings, signal): (&SignalExport, Signal) = ($settings, $signal);
        match (settings.protocol, $runner) {
            #[cfg(feature = "otlp-grpc")]
            (OtlpProtocol::Grpc, Runner::Tokio(handle)) => {
                use opentelemetry_otlp::{WithExportConfig as _, WithTonicConfig as _};
                let compression = match settings.compression {
                    crate::telemetry::otlp_config::Compression::Gzip => Some(opentelemetry_otlp::Compression::Gzip),
                    crate::telemetry::otlp_config::Compression::None => None,
                };
                let _entered = handle.enter();
                let mut builder = $builder
                    .with_tonic()
                    .with_endpoint(settings.endpoint.clone())
                    .with_timeout(settings.timeout)
                    .with_metadata(opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(header_map(
                        &settings.headers,
                        signal,
                    )?))
                    .with_retry_policy(retry_policy());
                if let Some(compression) = compression {
                    builder = builder.with_compression(compression);
                }
                builder
                    .with_channel(grpc_channel(settings, signal)?)
                    .build()
                    .map_err(|error| setup_error(signal, &error))
            }
            // Settings name only compiled protocols (checked when read), and gRPC gets a runtime.
            #[allow(unreachable_patterns)]
            _ => Err(setup_error(signal, &format!("{} export is not compiled in", settings.protocol.as_str()))),
        }
    }};
}

fn span_exporter(settings: &SignalExport, runner: &Runner) -> Result<opentelemetry_otlp::SpanExporter, SetupError> {
    build_exporter!(opentelemetry_otlp::SpanExporter::builder(), settings, runner, Signal::Traces)
}

fn log_exporter(settings: &SignalExport, runner: &Runner) -> Result<opentelemetry_otlp::LogExporter, SetupError> {
    build_exporter!(opentelemetry_otlp::LogExporter::builder(), settings, runner, Signal::Logs)
}

struct SpanBatches {
    exporter: opentelemetry_otlp::SpanExporter,
    runner: Runner,
}

impl BatchExporter<SpanData> for SpanBatches {
    fn export(&mut self, batch: Vec<SpanData>) -> Result<Accepted, String> {
        self.runner.block_on(self.exporter.export(batch)).map(|()| Accepted::All).map_err(|error| error.to_string())
    }

    fn shutdown(&mut self) {
        let _ = SpanExporter::shutdown_with_timeout(&self.exporter, Duration::from_secs(1));
    }
}

struct LogBatches {
    exporter: opentelemetry_otlp::LogExporter,
    runner: Runner,
}

impl BatchExporter<(SdkLogRecord, InstrumentationScope)> for LogBatches {
    fn export(&mut self, batch: Vec<(SdkLogRecord, InstrumentationScope)>) -> Result<Accepted, String> {
        let borrowed: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            batch.iter().map(|(record, scope)| (record, scope)).collect();
        self.runner
            .block_on(self.exporter.export(LogBatch::new(&borrowed)))
            .map(|()| Accepted::All)
            .map_err(|error| error.to_string())
    }

    fn shutdown(&mut self) {
        let _ = LogExporter::shutdown_with_timeout(&self.exporter, Duration::from_secs(1));
    }
}

/// OTLP/HTTP batches encoded by obs (`otlp_body`) and posted by obs (`otlp_http`).
#[cfg(feature = "otlp-http")]
struct EncodedBatches {
    http: crate::telemetry::otlp_http::HttpExport,
    resource: crate::telemetry::otlp_body::EncodedResource,
}

#[cfg(feature = "otlp-http")]
impl EncodedBatches {
    fn new(settings: &SignalExport, signal: Signal, resource: &Resource) -> Result<Self, SetupError> {
        Ok(EncodedBatches {
            http: crate::telemetry::otlp_http::HttpExport::new(settings, signal)?,
            resource: crate::telemetry::otlp_body::EncodedResource::new(resource),
        })
    }
}

#[cfg(feature = "otlp-http")]
impl BatchExporter<EncodedItem> for EncodedBatches {
    fn export(&mut self, batch: Vec<EncodedItem>) -> Result<Accepted, String> {
        self.http.post(crate::telemetry::otlp_body::request(&self.resource, &batch))
    }

    fn shutdown(&mut self) {}
}

/// Where a processor's items wait: encoded by obs for OTLP/HTTP, as the SDK's records for the
/// SDK's gRPC exporter.
#[derive(Debug)]
enum Queue<T> {
    #[cfg(feature = "otlp-http")]
    Encoded(ExportQueue<EncodedItem>),
    Sdk(ExportQueue<T>),
}

impl<T: Send + 'static> Queue<T> {
    /// Starts `signal`'s queue: for OTLP/HTTP with obs's encoding and transport, for gRPC with
    /// the SDK exporter `sdk_batches` makes.
    #[cfg_attr(not(feature = "otlp-http"), allow(unused_variables, reason = "the resource is encoded by obs for HTTP"))]
    fn start<B: BatchExporter<T>>(
        settings: &SignalExport,
        signal: Signal,
        resource: &Resource,
        sdk_batches: impl FnOnce() -> Result<B, SetupError>,
    ) -> Result<Self, SetupError> {
        let started = |error: std::io::Error| setup_error(signal, &error);
        Ok(match settings.protocol {
            #[cfg(feature = "otlp-http")]
            OtlpProtocol::HttpProtobuf => Queue::Encoded(
                ExportQueue::start(signal, EncodedBatches::new(settings, signal, resource)?).map_err(started)?,
            ),
            #[allow(unreachable_patterns, reason = "gRPC, or a protocol the settings refuse when not compiled in")]
            _ => Queue::Sdk(ExportQueue::start(signal, sdk_batches()?).map_err(started)?),
        })
    }

    fn flush(&self) -> OTelSdkResult {
        let ok = match self {
            #[cfg(feature = "otlp-http")]
            Queue::Encoded(queue) => queue.flush(crate::telemetry::SHUTDOWN_DEADLINE),
            Queue::Sdk(queue) => queue.flush(crate::telemetry::SHUTDOWN_DEADLINE),
        };
        flushed(ok)
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let ok = match self {
            #[cfg(feature = "otlp-http")]
            Queue::Encoded(queue) => queue.shutdown(timeout),
            Queue::Sdk(queue) => queue.shutdown(timeout),
        };
        flushed(ok)
    }
}

/// Hands ended, sampled spans to the export queue.
#[derive(Debug)]
pub struct QueuedSpanProcessor {
    queue: Queue<SpanData>,
}

impl QueuedSpanProcessor {
    /// Starts exporting spans as `settings` say, describing them with `resource`.
    pub fn start(settings: &SignalExport, runner: &Runner, resource: &Resource) -> Result<Self, SetupError> {
        let queue = Queue::start(settings, Signal::Traces, resource, || {
            let mut exporter = span_exporter(settings, runner)?;
            exporter.set_resource(resource);
            Ok(SpanBatches { exporter, runner: runner.clone() })
        })?;
        Ok(QueuedSpanProcessor { queue })
    }
}

fn flushed(ok: bool) -> OTelSdkResult {
    if ok { Ok(()) } else { Err(OTelSdkError::Timeout(crate::telemetry::SHUTDOWN_DEADLINE)) }
}

impl SpanProcessor for QueuedSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            match &self.queue {
                #[cfg(feature = "otlp-http")]
                Queue::Encoded(queue) => queue.push_with(|| EncodedItem::span(span)),
                Queue::Sdk(queue) => queue.push(span),
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.queue.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.queue.shutdown(timeout)
    }
}

/// Hands log records to the export queue.
#[derive(Debug)]
pub struct QueuedLogProcessor {
    queue: Queue<(SdkLogRecord, InstrumentationScope)>,
}

impl QueuedLogProcessor {
    /// Starts exporting log records as `settings` say, describing them with `resource`.
    pub fn start(settings: &SignalExport, runner: &Runner, resource: &Resource) -> Result<Self, SetupError> {
        let queue = Queue::start(settings, Signal::Logs, resource, || {
            let mut exporter = log_exporter(settings, runner)?;
            exporter.set_resource(resource);
            Ok(LogBatches { exporter, runner: runner.clone() })
        })?;
        Ok(QueuedLogProcessor { queue })
    }
}

impl LogProcessor for QueuedLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        match &self.queue {
            #[cfg(feature = "otlp-http")]
            Queue::Encoded(queue) => queue.push_with(|| EncodedItem::log(record, scope)),
            Queue::Sdk(queue) => queue.push((record.clone(), scope.clone())),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.queue.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.queue.shutdown(timeout)
    }
}
