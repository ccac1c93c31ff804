//! OTLP export of spans and log records through the bounded [`ExportQueue`]s, behind processors
//! that never block the application: each span and record is encoded by obs (`otlp_body`) on the
//! thread that ends or emits it, and each batch sent by obs over OTLP/HTTP (`otlp_http`) or
//! OTLP/gRPC (`otlp_grpc`).

use crate::error::SetupError;
use crate::telemetry::export_queue::{Accepted, BatchExporter, ExportQueue};
use crate::telemetry::otlp_body::{EncodedItem, EncodedResource, request};
use crate::telemetry::otlp_config::{OtlpProtocol, Signal, SignalExport};
use opentelemetry::Context;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::time::Duration;

/// Where an export worker's transport runs its I/O.
#[derive(Clone, Debug)]
pub enum Runner {
    /// On the export thread itself: the blocking HTTP client does its own I/O.
    Inline,
    /// On the toolkit's own Tokio runtime: tonic's channel needs its reactor.
    Tokio(
        #[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code, reason = "only gRPC runs on it"))]
        tokio::runtime::Handle,
    ),
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

/// How one signal's encoded requests are sent: spans', records' and pushed metrics' alike.
#[derive(Debug)]
pub(crate) enum Transport {
    #[cfg(feature = "otlp-http")]
    Http(crate::telemetry::otlp_http::HttpExport),
    #[cfg(feature = "otlp-grpc")]
    Grpc(crate::telemetry::otlp_grpc::GrpcExport),
}

impl Transport {
    /// The transport `settings` name, for `signal`; gRPC's on the toolkit's runtime.
    pub(crate) fn new(settings: &SignalExport, signal: Signal, runner: &Runner) -> Result<Self, SetupError> {
        match (settings.protocol, runner) {
            #[cfg(feature = "otlp-http")]
            (OtlpProtocol::HttpProtobuf, _) => {
                Ok(Transport::Http(crate::telemetry::otlp_http::HttpExport::new(settings, signal)?))
            }
            #[cfg(feature = "otlp-grpc")]
            (OtlpProtocol::Grpc, Runner::Tokio(handle)) => {
                Ok(Transport::Grpc(crate::telemetry::otlp_grpc::GrpcExport::new(settings, signal, handle)?))
            }
            // Settings name only compiled protocols (checked when read), and gRPC gets a runtime.
            #[allow(unreachable_patterns)]
            _ => Err(setup_error(signal, &format!("{} export is not compiled in", settings.protocol.as_str()))),
        }
    }

    /// Sends `body`, an encoded `Export*ServiceRequest`, retrying what OTLP calls transient.
    pub(crate) fn send(&self, body: Vec<u8>) -> Result<Accepted, String> {
        match self {
            #[cfg(feature = "otlp-http")]
            Transport::Http(http) => http.post(body),
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(grpc) => grpc.send(body),
        }
    }

    /// Sends `body` once.
    pub(crate) fn send_once(&self, body: Vec<u8>) -> Result<Accepted, String> {
        match self {
            #[cfg(feature = "otlp-http")]
            Transport::Http(http) => http.post_once(body),
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(grpc) => grpc.send_once(body),
        }
    }
}

/// Batches of encoded spans or records, assembled into one request and sent.
#[derive(Debug)]
struct EncodedBatches {
    transport: Transport,
    resource: EncodedResource,
}

impl BatchExporter<EncodedItem> for EncodedBatches {
    fn export(&mut self, batch: Vec<EncodedItem>) -> Result<Accepted, String> {
        self.transport.send(request(&self.resource, &batch))
    }

    fn shutdown(&mut self) {}
}

/// Starts `signal`'s export queue as `settings` say, describing items with `resource`.
fn start_queue(
    settings: &SignalExport,
    signal: Signal,
    runner: &Runner,
    resource: &Resource,
) -> Result<ExportQueue<EncodedItem>, SetupError> {
    let transport = Transport::new(settings, signal, runner)?;
    let batches = EncodedBatches { transport, resource: EncodedResource::new(resource) };
    ExportQueue::start(signal, batches).map_err(|error| setup_error(signal, &error))
}

fn flushed(ok: bool) -> OTelSdkResult {
    if ok { Ok(()) } else { Err(OTelSdkError::Timeout(crate::telemetry::SHUTDOWN_DEADLINE)) }
}

/// Hands ended, sampled spans to the export queue: the spans `tracing-opentelemetry` ends
/// through the SDK, and call spans through [`QueuedSpanProcessor::sink`].
#[derive(Debug, Clone)]
pub struct QueuedSpanProcessor {
    queue: std::sync::Arc<ExportQueue<EncodedItem>>,
}

impl QueuedSpanProcessor {
    /// Starts exporting spans as `settings` say, describing them with `resource`.
    pub fn start(settings: &SignalExport, runner: &Runner, resource: &Resource) -> Result<Self, SetupError> {
        Ok(QueuedSpanProcessor { queue: std::sync::Arc::new(start_queue(settings, Signal::Traces, runner, resource)?) })
    }

    /// The same queue, for the spans obs ends itself.
    pub fn sink(&self) -> crate::telemetry::call_span::SpanSink {
        let processor = self.clone();
        std::sync::Arc::new(move |span| processor.on_end(span))
    }
}

impl SpanProcessor for QueuedSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.queue.push_with(|| EncodedItem::span(span));
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        flushed(self.queue.flush(crate::telemetry::SHUTDOWN_DEADLINE))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        flushed(self.queue.shutdown(timeout))
    }
}

/// Hands log records to the export queue.
#[derive(Debug)]
pub struct QueuedLogProcessor {
    queue: ExportQueue<EncodedItem>,
}

impl QueuedLogProcessor {
    /// Starts exporting log records as `settings` say, describing them with `resource`.
    pub fn start(settings: &SignalExport, runner: &Runner, resource: &Resource) -> Result<Self, SetupError> {
        Ok(QueuedLogProcessor { queue: start_queue(settings, Signal::Logs, runner, resource)? })
    }
}

impl LogProcessor for QueuedLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.queue.push_with(|| EncodedItem::log(record, scope));
    }

    fn force_flush(&self) -> OTelSdkResult {
        flushed(self.queue.flush(crate::telemetry::SHUTDOWN_DEADLINE))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        flushed(self.queue.shutdown(timeout))
    }
}
