"""A real OTLP receiver for the end-to-end tests: OTLP/HTTP (protobuf) and OTLP/gRPC, for traces,
logs and metrics, decoded with the OpenTelemetry project's own `opentelemetry-proto` types,
independent of the Rust code under test.

It prints one JSON object per line on stdout: first
    {"event": "listening", "http": <port>, "grpc": <port>, "tls": <bool>}
then one object per received span, log record or metric data point, with its resource
attributes, ids in hex and attributes flattened to plain values. Every such object also carries
how it was delivered: "transport" ("http" or "grpc"), "headers" (the request's `x-*` headers) and
"content_encoding" (see below).

A metric object stands for one data point: "name", "unit", "description", "scope", "resource",
"attributes", "start_time_unix_nano", "time_unix_nano" and "kind", which decides the rest:
    "sum":       "monotonic", "temporality" ("CUMULATIVE" or "DELTA"), "value"
    "gauge":     "value"
    "histogram": "temporality", "count", "sum", "min", "max" (null when not sent),
                 "bucket_counts", "explicit_bounds"
"value" is the number as sent: an int (as_int) or a float (as_double). Exponential histograms
and summaries get lines too, of kind "exponential_histogram" and "summary", in less detail.

    python3 otlp_receiver.py [--mode accept|refuse|uncompressed-only]
                             [--tls-cert FILE --tls-key FILE [--client-ca FILE]]

`refuse` answers every export with HTTP 503 / gRPC UNAVAILABLE, as an overloaded collector does.
`uncompressed-only` accepts uncompressed exports and refuses compressed ones (HTTP 415, gRPC
UNIMPLEMENTED): with it a test proves an exporter really compresses, over gRPC too, where the
servicer cannot see the encoding.

`--tls-cert`/`--tls-key` serve both listeners over TLS; `--client-ca` also requires every client
to present a certificate signed by that CA (mutual TLS). A failed handshake on the HTTP listener
prints {"event": "tls_handshake_failed", "transport": "http", "error": ...}; grpcio handles its
own handshakes and reports none of them to Python.

"content_encoding" is, over HTTP, the request's Content-Encoding ("gzip" or "identity"; gzip
bodies are decompressed, anything else is answered 415). Over gRPC it is the `grpc-encoding`
metadata when grpcio shows it, which it does not (as of grpcio 1.85 it consumes that header and
decompresses the message before the servicer runs), so over gRPC it is null.
"""

import argparse
import gzip
import json
import ssl
import sys
import threading
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PRINT_LOCK = threading.Lock()
# Bounds how long a client that connects but never completes the TLS handshake holds a thread.
HANDSHAKE_TIMEOUT_SECONDS = 10
# Bounds how long closing a TLS connection waits for the client's close_notify.
CLOSE_NOTIFY_TIMEOUT_SECONDS = 1


def emit(item):
    with PRINT_LOCK:
        sys.stdout.write(json.dumps(item, sort_keys=True) + "\n")
        sys.stdout.flush()


def plain(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [plain(value) for value in any_value.array_value.values]
    if kind == "kvlist_value":
        return attributes(any_value.kvlist_value.values)
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def attributes(key_values):
    return {kv.key: plain(kv.value) for kv in key_values}


def custom_headers(pairs):
    return {key.lower(): value for key, value in pairs if key.lower().startswith("x-")}


def delivery(transport, headers, content_encoding):
    """The keys every recorded item carries about the request that brought it."""
    return {"transport": transport, "headers": custom_headers(headers), "content_encoding": content_encoding}


def record_spans(request, delivered):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                emit({
                    "signal": "span",
                    **delivered,
                    "resource": resource,
                    "scope": scope_spans.scope.name,
                    "name": span.name,
                    "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "attributes": attributes(span.attributes),
                    "status_code": trace_pb2.Status.StatusCode.Name(span.status.code),
                    "status_message": span.status.message,
                    "events": [event.name for event in span.events],
                })


def record_logs(request, delivered):
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for log in scope_logs.log_records:
                emit({
                    "signal": "log",
                    **delivered,
                    "resource": resource,
                    "scope": scope_logs.scope.name,
                    "event_name": log.event_name,
                    "body": plain(log.body),
                    "severity_text": log.severity_text,
                    "severity_number": log.severity_number,
                    "trace_id": log.trace_id.hex(),
                    "span_id": log.span_id.hex(),
                    "attributes": attributes(log.attributes),
                })


def temporality(value):
    """The temporality's name without its prefix: CUMULATIVE, DELTA or UNSPECIFIED."""
    return metrics_pb2.AggregationTemporality.Name(value).removeprefix("AGGREGATION_TEMPORALITY_")


def optional(message, field):
    """An `optional` proto field's value, or None when it was not sent (rather than its zero)."""
    return getattr(message, field) if message.HasField(field) else None


def point_basics(point):
    return {
        "attributes": attributes(point.attributes),
        "start_time_unix_nano": point.start_time_unix_nano,
        "time_unix_nano": point.time_unix_nano,
    }


def number_point(point):
    value_field = point.WhichOneof("value")  # "as_int" or "as_double"
    return {**point_basics(point), "value": getattr(point, value_field) if value_field else None}


def data_points(metric):
    """One dict per data point of `metric`, with what its kind of data has."""
    data = metric.WhichOneof("data")
    if data == "sum":
        for point in metric.sum.data_points:
            yield {
                "kind": "sum",
                "monotonic": metric.sum.is_monotonic,
                "temporality": temporality(metric.sum.aggregation_temporality),
                **number_point(point),
            }
    elif data == "gauge":
        for point in metric.gauge.data_points:
            yield {"kind": "gauge", **number_point(point)}
    elif data == "histogram":
        for point in metric.histogram.data_points:
            yield {
                "kind": "histogram",
                "temporality": temporality(metric.histogram.aggregation_temporality),
                **point_basics(point),
                "count": point.count,
                "sum": optional(point, "sum"),
                "min": optional(point, "min"),
                "max": optional(point, "max"),
                "bucket_counts": list(point.bucket_counts),
                "explicit_bounds": list(point.explicit_bounds),
            }
    # The kinds below are not checked in detail by any test; their lines exist so that such a
    # metric shows up in a failure message instead of vanishing.
    elif data == "exponential_histogram":
        for point in metric.exponential_histogram.data_points:
            yield {
                "kind": "exponential_histogram",
                "temporality": temporality(metric.exponential_histogram.aggregation_temporality),
                **point_basics(point),
                "count": point.count,
                "sum": optional(point, "sum"),
                "scale": point.scale,
                "zero_count": point.zero_count,
            }
    elif data == "summary":
        for point in metric.summary.data_points:
            yield {
                "kind": "summary",
                **point_basics(point),
                "count": point.count,
                "sum": point.sum,
                "quantiles": [{"quantile": q.quantile, "value": q.value} for q in point.quantile_values],
            }


def record_metrics(request, delivered):
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in data_points(metric):
                    emit({
                        "signal": "metric",
                        **delivered,
                        "resource": resource,
                        "scope": scope_metrics.scope.name,
                        "name": metric.name,
                        "unit": metric.unit,
                        "description": metric.description,
                        **point,
                    })


class HttpServer(ThreadingHTTPServer):
    """The OTLP/HTTP listener; with a TLS context, it speaks HTTPS.

    The TLS handshake runs in the connection's own thread rather than in the accept loop, so a
    client that fails it (wrong CA, no client certificate) or stalls in it neither stops nor
    delays the other connections.
    """

    tls_context = None

    def get_request(self):
        connection, address = super().get_request()
        if self.tls_context is not None:
            connection = self.tls_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def finish_request(self, request, client_address):
        if self.tls_context is not None:
            try:
                request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
                request.do_handshake()
                request.settimeout(None)
            except OSError as error:  # ssl.SSLError is an OSError, as are resets and timeouts
                emit({"event": "tls_handshake_failed", "transport": "http", "error": str(error)})
                return  # the server's shutdown_request closes the connection
        super().finish_request(request, client_address)

    def shutdown_request(self, request):
        # Ends a TLS session with close_notify, as real servers do: without it, strict clients
        # such as rustls report the end of the stream as a truncation attack.
        if isinstance(request, ssl.SSLSocket) and request.version() is not None:
            try:
                request.settimeout(CLOSE_NOTIFY_TIMEOUT_SECONDS)
                request = request.unwrap()
            except OSError:
                pass  # the client closed first, or never answered: close the socket anyway
        super().shutdown_request(request)


class HttpReceiver(BaseHTTPRequestHandler):
    refuse = False
    uncompressed_only = False
    routes = {
        "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse, record_spans),
        "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse, record_logs),
        "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse, record_metrics),
    }

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if self.refuse:
            self.answer(503)
            return
        content_encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if content_encoding != "identity" and self.uncompressed_only:
            self.answer(415)
            return
        if content_encoding == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                self.answer(400)
                return
        elif content_encoding != "identity":
            self.answer(415)  # OTLP/HTTP defines gzip only
            return
        request_type, response_type, record = route
        request = request_type()
        request.ParseFromString(body)
        record(request, delivery("http", self.headers.items(), content_encoding))
        self.answer(200, response_type().SerializeToString())

    def answer(self, status, payload=None):
        """Sends `status` with an empty body, or with `payload`, a serialized export response."""
        payload_bytes = b"" if payload is None else payload
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload_bytes)))
        self.end_headers()
        self.wfile.write(payload_bytes)

    def log_message(self, *args):
        pass


def grpc_servicer(servicer_base, response_type, record, refuse):
    """An instance of the generated `servicer_base` whose Export records the request."""

    class Servicer(servicer_base):
        def Export(self, request, context):
            if refuse:
                context.abort(grpc.StatusCode.UNAVAILABLE, "refusing on purpose")
            metadata = context.invocation_metadata()
            # Null in practice: grpcio strips `grpc-encoding` (see the module docstring).
            content_encoding = dict(metadata).get("grpc-encoding")
            record(request, delivery("grpc", metadata, content_encoding))
            return response_type()

    return Servicer()


def read(path):
    with open(path, "rb") as file:
        return file.read()


def http_tls_context(args):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    # The handler speaks HTTP/1.x only; say so rather than leave clients to assume.
    context.set_alpn_protocols(["http/1.1"])
    if args.client_ca:
        context.load_verify_locations(args.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def grpc_tls_credentials(args):
    client_ca = read(args.client_ca) if args.client_ca else None
    return grpc.ssl_server_credentials(
        [(read(args.tls_key), read(args.tls_cert))],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["accept", "refuse", "uncompressed-only"], default="accept")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve over TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument("--client-ca", metavar="FILE", help="require client certificates signed by this CA")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        parser.error("--client-ca needs --tls-cert and --tls-key")
    tls = bool(args.tls_cert)
    refuse = args.mode == "refuse"

    HttpReceiver.refuse = refuse
    HttpReceiver.uncompressed_only = args.mode == "uncompressed-only"
    http_server = HttpServer(("127.0.0.1", 0), HttpReceiver)
    if tls:
        http_server.tls_context = http_tls_context(args)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()

    # grpcio decompresses before the servicer runs; refusing is the server's own setting.
    options = [("grpc.compression_enabled_algorithms_bitset", 1)] if args.mode == "uncompressed-only" else []
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        grpc_servicer(trace_service_pb2_grpc.TraceServiceServicer, trace_service_pb2.ExportTraceServiceResponse, record_spans, refuse),
        grpc_server,
    )
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
        grpc_servicer(logs_service_pb2_grpc.LogsServiceServicer, logs_service_pb2.ExportLogsServiceResponse, record_logs, refuse),
        grpc_server,
    )
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
        grpc_servicer(metrics_service_pb2_grpc.MetricsServiceServicer, metrics_service_pb2.ExportMetricsServiceResponse, record_metrics, refuse),
        grpc_server,
    )
    if tls:
        grpc_port = grpc_server.add_secure_port("127.0.0.1:0", grpc_tls_credentials(args))
    else:
        grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()

    emit({"event": "listening", "http": http_server.server_address[1], "grpc": grpc_port, "tls": tls})
    # Runs until the test kills it; stdin is closed, so wait on the gRPC server.
    grpc_server.wait_for_termination()


if __name__ == "__main__":
    main()
