"""An OTLP/HTTP receiver built on OpenTelemetry's generated classes, for traced's tests.

Usage: receiver.py ANSWER...   where each ANSWER is how to answer the next request:
  200                  accepted
  200:partial=N:TEXT   accepted, with a partial_success rejecting N spans because of TEXT
  429:retry=S          refused for now, Retry-After S seconds (any status works)
  400                  refused

Prints the port it listens on (127.0.0.1), then one JSON line per request: the path, the
content type and encoding, and the ExportTraceServiceRequest decoded (protobuf with
ExportTraceServiceRequest.FromString; JSON with json_format.ParseDict, which refuses unknown
fields, after turning the OTLP JSON hex ids into protobuf JSON's base64), rendered by
json_format.MessageToDict with the ids back in hex. Exits when stdin closes, or after 60 s.
"""

import base64
import gzip
import http.server
import json
import sys
import threading

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

ID_FIELDS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def ids(value, convert):
    """Applies convert to every id field, at any depth."""
    if isinstance(value, dict):
        return {k: convert(v) if k in ID_FIELDS else ids(v, convert) for k, v in value.items()}
    if isinstance(value, list):
        return [ids(v, convert) for v in value]
    return value


answers = sys.argv[1:]
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding")
        content_type = self.headers.get("Content-Type")
        if encoding == "gzip":
            body = gzip.decompress(body)
        if content_type == "application/json":
            parsed = ids(json.loads(body), lambda h: base64.b64encode(bytes.fromhex(h)).decode())
            request = json_format.ParseDict(parsed, ExportTraceServiceRequest())
        else:
            request = ExportTraceServiceRequest.FromString(body)
        decoded = ids(
            json_format.MessageToDict(request, preserving_proto_field_name=True),
            lambda b: base64.b64decode(b).hex(),
        )
        with lock:
            answer = answers.pop(0) if answers else "500"
            print(json.dumps({
                "path": self.path,
                "content_type": content_type,
                "encoding": encoding,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "request": decoded,
            }), flush=True)
        status, *options = answer.split(":", 2)
        response = ExportTraceServiceResponse()
        headers = {}
        if options and options[0].startswith("partial="):
            response.partial_success.rejected_spans = int(options[0][len("partial="):])
            response.partial_success.error_message = options[1]
        elif options and options[0].startswith("retry="):
            headers["Retry-After"] = options[0][len("retry="):]
        if content_type == "application/json":
            out = json_format.MessageToJson(response).encode()
        else:
            out = response.SerializeToString()
        self.send_response(int(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(out)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(out)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
done.wait(60)
server.shutdown()
