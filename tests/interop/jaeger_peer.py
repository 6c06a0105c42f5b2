"""A service traced with Uber's Python jaeger-client, to check traced against a real peer.

  jaeger_peer.py serve          answers GET requests as a child span of the caller's context;
                                prints its port, then stops when stdin closes (or after 120 s)
  jaeger_peer.py call URL MODE  starts a root span (MODE: sampled, unsampled, debug) with baggage
                                `tenant=acme corp`, calls URL with the context injected, and prints
                                its span and the answer as JSON
  jaeger_peer.py report PORT    reports a root span and a child (tags, a log) to the Jaeger agent
                                on 127.0.0.1:PORT with the client's own UDP reporter, and prints
                                both spans as JSON

Each span is described as jaeger-client sees it: hex ids, flags and baggage.
"""

import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jaeger_client import ConstSampler, Tracer
from jaeger_client.reporter import InMemoryReporter
from opentracing.ext import tags
from opentracing.propagation import Format


def tracer(service, sampled=True):
    return Tracer(service, reporter=InMemoryReporter(), sampler=ConstSampler(sampled))


def describe(span):
    cx = span.context
    return {
        "trace_id": format(cx.trace_id, "x"),
        "span_id": format(cx.span_id, "x"),
        "parent_id": format(cx.parent_id or 0, "x"),
        "flags": cx.flags,
        "baggage": dict(cx.baggage or {}),
    }


def serve():
    leaf = tracer("python-leaf")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            headers = {k.lower(): v for k, v in self.headers.items()}
            parent = leaf.extract(Format.HTTP_HEADERS, headers)
            server_tags = {tags.SPAN_KIND: tags.SPAN_KIND_RPC_SERVER}
            with leaf.start_span("python-leaf", child_of=parent, tags=server_tags) as span:
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


def call(url, mode):
    root = tracer("python-root", sampled=mode != "unsampled")
    debug = {"sampling.priority": 1} if mode == "debug" else None
    span = root.start_span("python-root", tags=debug)
    span.set_baggage_item("tenant", "acme corp")
    headers = {}
    root.inject(span.context, Format.HTTP_HEADERS, headers)
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    span.finish()
    print(json.dumps({"root": describe(span), "answer": answer}))


def report(port):
    from jaeger_client import Config

    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": port},
            "reporter_flush_interval": 0.1,
            "logging": False,
        },
        service_name="python-agent-client",
        validate=True,
    )
    reporter_tracer = config.new_tracer()
    root = reporter_tracer.start_span("python-root", tags={"component": "interop", "answer": 42})
    child = reporter_tracer.start_span("python-child", child_of=root)
    child.set_tag("error", True)
    child.log_kv({"event": "cache miss", "key": "images/7"})
    child.finish()
    root.finish()
    spans = [describe(root), describe(child)]
    # Let the reporter's IO loop send, then close it (its close returns a future).
    time.sleep(1.0)
    reporter_tracer.close()
    time.sleep(0.5)
    print(json.dumps(spans), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    elif sys.argv[1] == "report":
        report(int(sys.argv[2]))
    else:
        call(sys.argv[2], sys.argv[3])
