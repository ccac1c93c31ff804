//! Sending an encoded OTLP request over gRPC: the bytes obs wrote (`otlp_body`) as the unary
//! `Export` call's message, through tonic on the toolkit's own runtime, with the configured
//! metadata, gzip when asked for, and the retries OTLP/gRPC prescribes (`otlp_retry`).

use crate::error::SetupError;
use crate::telemetry::export_queue::Accepted;
use crate::telemetry::otlp::{grpc_channel, header_map};
use crate::telemetry::otlp_config::{Compression, Signal, SignalExport};
use crate::telemetry::otlp_retry::{Retry, accepted, with_retries};
use bytes::{Buf as _, BufMut as _, Bytes};
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// One signal's OTLP/gRPC endpoint and how to reach it.
#[derive(Debug)]
pub(crate) struct GrpcExport {
    client: tonic::client::Grpc<tonic::transport::Channel>,
    path: http::uri::PathAndQuery,
    metadata: tonic::metadata::MetadataMap,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

impl GrpcExport {
    /// Made inside `runtime`, whose reactor tonic's channel needs.
    pub(crate) fn new(
        settings: &SignalExport,
        signal: Signal,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Self, SetupError> {
        let _entered = runtime.enter();
        let mut client = tonic::client::Grpc::new(grpc_channel(settings, signal)?);
        if settings.compression == Compression::Gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let path = match signal {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        };
        Ok(GrpcExport {
            client,
            path: http::uri::PathAndQuery::from_static(path),
            metadata: tonic::metadata::MetadataMap::from_headers(header_map(&settings.headers, signal)?),
            runtime: runtime.clone(),
            timeout: settings.timeout,
        })
    }

    /// Sends `body` (an encoded `Export*ServiceRequest`), retrying what OTLP/gRPC says may be
    /// retried until the export timeout.
    ///
    /// # Errors
    /// When the last attempt failed, or the first failure may not be retried.
    pub(crate) fn send(&self, body: Vec<u8>) -> Result<Accepted, String> {
        let body = Bytes::from(body);
        with_retries(self.timeout, |remaining| {
            self.attempt(body.clone(), remaining).map_err(|status| (status.to_string(), retry(&status)))
        })
    }

    /// Sends `body` once.
    ///
    /// # Errors
    /// When the collector cannot be reached or answers with an error status.
    pub(crate) fn send_once(&self, body: Vec<u8>) -> Result<Accepted, String> {
        self.attempt(Bytes::from(body), self.timeout).map_err(|status| status.to_string())
    }

    fn attempt(&self, body: Bytes, timeout: Duration) -> Result<Accepted, Status> {
        let mut client = self.client.clone();
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(timeout);
        let answer = self.runtime.block_on(async {
            client.ready().await.map_err(|error| Status::unavailable(error.to_string()))?;
            client.unary(request, self.path.clone(), Verbatim).await
        })?;
        Ok(accepted(&answer.into_inner()))
    }
}

/// The codes OTLP/gRPC says may be retried. `RESOURCE_EXHAUSTED` only may with a retry delay in
/// the status details, which are not read here: it is not retried.
fn retry(status: &Status) -> Retry {
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Retry::AfterBackoff,
        _ => Retry::Never,
    }
}

/// A codec that sends and receives messages as the bytes they already are.
#[derive(Debug, Clone, Copy)]
struct Verbatim;

impl Codec for Verbatim {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Verbatim;
    type Decoder = Verbatim;

    fn encoder(&mut self) -> Self::Encoder {
        Verbatim
    }

    fn decoder(&mut self) -> Self::Decoder {
        Verbatim
    }
}

impl Encoder for Verbatim {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, destination: &mut EncodeBuf<'_>) -> Result<(), Status> {
        destination.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Verbatim {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, source: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(source.copy_to_bytes(source.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::retry;
    use crate::telemetry::otlp_retry::Retry;
    use tonic::{Code, Status};

    #[test]
    fn only_the_codes_otlp_calls_transient_are_retried() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert!(matches!(retry(&Status::new(code, "")), Retry::AfterBackoff), "{code:?}");
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::ResourceExhausted,
            Code::Internal,
            Code::NotFound,
        ] {
            assert!(matches!(retry(&Status::new(code, "")), Retry::Never), "{code:?}");
        }
    }
}
