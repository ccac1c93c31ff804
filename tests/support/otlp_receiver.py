"""A real OTLP receiver for the end-to-end tests: OTLP/HTTP (protobuf) and OTLP/gRPC, decoded
with the OpenTelemetry project's own `opentelemetry-proto` types, independent of the Rust code
under test.

It prints one JSON object per line on stdout: first
    {"event": "listening", "http": <port>, "grpc": <port>}
then one object per received span or log record, with its resource attributes, ids in hex and
attributes flattened to plain values.

    python3 otlp_receiver.py [--mode accept|refuse]

`refuse` answers every export with HTTP 503 / gRPC UNAVAILABLE, as an overloaded collector does.
"""

import argparse
import json
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

PRINT_LOCK = threading.Lock()


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


def record_spans(request, transport, headers):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                emit({
                    "signal": "span",
                    "transport": transport,
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
                    "headers": headers,
                })


def record_logs(request, transport, headers):
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for log in scope_logs.log_records:
                emit({
                    "signal": "log",
                    "transport": transport,
                    "resource": resource,
                    "scope": scope_logs.scope.name,
                    "event_name": log.event_name,
                    "body": plain(log.body),
                    "severity_text": log.severity_text,
                    "severity_number": log.severity_number,
                    "trace_id": log.trace_id.hex(),
                    "span_id": log.span_id.hex(),
                    "attributes": attributes(log.attributes),
                    "headers": headers,
                })


class HttpReceiver(BaseHTTPRequestHandler):
    refuse = False
    routes = {
        "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse, record_spans),
        "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse, record_logs),
    }

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if self.refuse:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request_type, response_type, record = route
        request = request_type()
        request.ParseFromString(body)
        record(request, "http", custom_headers(self.headers.items()))
        payload = response_type().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class GrpcTraces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, refuse):
        self.refuse = refuse

    def Export(self, request, context):
        if self.refuse:
            context.abort(grpc.StatusCode.UNAVAILABLE, "refusing on purpose")
        record_spans(request, "grpc", custom_headers(context.invocation_metadata()))
        return trace_service_pb2.ExportTraceServiceResponse()


class GrpcLogs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, refuse):
        self.refuse = refuse

    def Export(self, request, context):
        if self.refuse:
            context.abort(grpc.StatusCode.UNAVAILABLE, "refusing on purpose")
        record_logs(request, "grpc", custom_headers(context.invocation_metadata()))
        return logs_service_pb2.ExportLogsServiceResponse()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["accept", "refuse"], default="accept")
    args = parser.parse_args()
    refuse = args.mode == "refuse"

    HttpReceiver.refuse = refuse
    http_server = ThreadingHTTPServer(("127.0.0.1", 0), HttpReceiver)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(GrpcTraces(refuse), grpc_server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(GrpcLogs(refuse), grpc_server)
    grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()

    emit({"event": "listening", "http": http_server.server_address[1], "grpc": grpc_port})
    # Runs until the test kills it; stdin is closed, so wait on the gRPC server.
    grpc_server.wait_for_termination()


if __name__ == "__main__":
    main()
