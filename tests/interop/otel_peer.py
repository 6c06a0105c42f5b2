"""A service traced with OpenTelemetry's Python SDK, exporting OTLP/HTTP (protobuf) with the
SDK's own exporter, to check traced against a real OpenTelemetry peer over W3C Trace Context.

  otel_peer.py serve ENDPOINT          answers GET requests with a server span `GET /leaf`, the
                                       child of the caller's W3C context; prints its port, then
                                       exports its spans to ENDPOINT and stops when stdin closes
                                       (or after 120 s)
  otel_peer.py call URL ENDPOINT STATE starts a client span `GET /v0/images` (a root), calls URL
                                       with its context injected (W3C traceparent) and `tracestate`
                                       STATE, exports it to ENDPOINT, and prints its span and the
                                       answer as JSON

Each span is described as the SDK sees it: hex ids and the trace state it holds.
"""

import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

W3C = TraceContextTextMapPropagator()


def provider(service, endpoint):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def describe(span):
    cx = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": format(cx.trace_id, "032x"),
        "span_id": format(cx.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent else None,
        "tracestate": cx.trace_state.to_header(),
    }


def serve(endpoint):
    leaf = provider("py-leaf", endpoint)
    tracer = leaf.get_tracer("otel_peer")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            headers = {k.lower(): v for k, v in self.headers.items()}
            context = W3C.extract(headers)
            with tracer.start_as_current_span(
                "GET /leaf", context=context, kind=trace.SpanKind.SERVER
            ) as span:
                body = json.dumps(describe(span)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)

    def stop_when_stdin_closes():
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    threading.Timer(120, server.shutdown).start()
    server.serve_forever()
    leaf.shutdown()


def call(url, endpoint, state):
    root = provider("py-root", endpoint)
    tracer = root.get_tracer("otel_peer")
    with tracer.start_as_current_span("GET /v0/images", kind=trace.SpanKind.CLIENT) as span:
        headers = {}
        W3C.inject(headers)
        headers["tracestate"] = state
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    root.shutdown()
    print(json.dumps({"root": describe(span), "answer": answer}))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "call":
        call(sys.argv[2], sys.argv[3], sys.argv[4])
