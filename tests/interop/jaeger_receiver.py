"""A Jaeger agent and collector stand-in that decodes what it receives with code no one here
wrote: the Apache `thrift` library and the thrift classes Jaeger's authors generated, shipped in
Uber's `jaeger-client`.

  jaeger_receiver.py udp compact|binary SPANS SECONDS
  jaeger_receiver.py http SPANS SECONDS [FAIL_FIRST [HANG_SECONDS]]

Prints the port it listens on, then receives until SPANS spans arrived or SECONDS passed, and
prints one JSON document: every batch (process and spans, all fields), the size of every
datagram or request body, and for HTTP the request headers. With FAIL_FIRST = n, the first n
HTTP requests are answered 500, each after HANG_SECONDS (default 0). It listens on port
$RECEIVER_PORT when set (to come back where a stopped receiver was), else on any free port.
"""

import os

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jaeger_client.thrift_gen.agent import Agent
from jaeger_client.thrift_gen.jaeger import ttypes
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport


def tag(t):
    return {
        "key": t.key,
        "type": ttypes.TagType._VALUES_TO_NAMES[t.vType],
        "str": t.vStr,
        "double": t.vDouble,
        "bool": t.vBool,
        "long": t.vLong,
    }


def batch_json(batch):
    return {
        "process": {
            "serviceName": batch.process.serviceName,
            "tags": [tag(t) for t in batch.process.tags or []],
        },
        "spans": [
            {
                "traceIdLow": s.traceIdLow,
                "traceIdHigh": s.traceIdHigh,
                "spanId": s.spanId,
                "parentSpanId": s.parentSpanId,
                "operationName": s.operationName,
                "references": [
                    {
                        "refType": ttypes.SpanRefType._VALUES_TO_NAMES[r.refType],
                        "traceIdLow": r.traceIdLow,
                        "traceIdHigh": r.traceIdHigh,
                        "spanId": r.spanId,
                    }
                    for r in s.references or []
                ],
                "flags": s.flags,
                "startTime": s.startTime,
                "duration": s.duration,
                "tags": [tag(t) for t in s.tags or []],
                "logs": [
                    {"timestamp": l.timestamp, "fields": [tag(f) for f in l.fields]}
                    for l in s.logs or []
                ],
            }
            for s in batch.spans
        ],
    }


def udp(protocol, wanted, seconds):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", PORT))
    print(sock.getsockname()[1], flush=True)
    factory = (
        TCompactProtocol.TCompactProtocolFactory()
        if protocol == "compact"
        else TBinaryProtocol.TBinaryProtocolFactory()
    )
    # Datagrams are taken off the socket as fast as they come and decoded afterwards, so a
    # slow decoder does not make the kernel drop them. Receiving ends when SPANS spans came (an
    # estimate from the span count in each batch header would need decoding, so all are
    # decoded as they come once the burst is over), or after one idle second, or at SECONDS.
    datagrams = []
    deadline = time.time() + seconds
    batches, errors, spans = [], [], 0
    while time.time() < deadline and spans < wanted:
        sock.settimeout(1.0 if datagrams else max(0.01, deadline - time.time()))
        try:
            datagrams.append(sock.recv(1 << 17))
            continue
        except socket.timeout:
            pass
        for data in datagrams[len(batches) + len(errors):]:
            try:
                iprot = factory.getProtocol(TTransport.TMemoryBuffer(data))
                name, _, _ = iprot.readMessageBegin()
                args = Agent.emitBatch_args()
                args.read(iprot)
                iprot.readMessageEnd()
                assert name == "emitBatch", name
            except Exception as e:  # reported, not fatal: the test asserts there is none
                errors.append(repr(e))
                continue
            batches.append(batch_json(args.batch))
            spans += len(args.batch.spans)
    return {"batches": batches, "sizes": [len(d) for d in datagrams], "errors": errors}


def http(wanted, seconds, fail_first, hang):
    state = {"batches": [], "sizes": [], "errors": [], "headers": [], "spans": 0, "seen": 0}
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            state["seen"] += 1
            state["headers"].append({k.lower(): v for k, v in self.headers.items()})
            if state["seen"] <= fail_first:
                time.sleep(hang)
                self.send_response(500)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            state["sizes"].append(len(body))
            try:
                batch = ttypes.Batch()
                batch.read(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body)))
                state["batches"].append(batch_json(batch))
                state["spans"] += len(batch.spans)
            except Exception as e:
                state["errors"].append(repr(e))
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()
            if state["spans"] >= wanted:
                done.set()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    done.wait(seconds)
    server.shutdown()
    del state["spans"], state["seen"]
    return state


PORT = int(os.environ.get("RECEIVER_PORT", "0"))

if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "udp":
        result = udp(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        hang = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
        result = http(int(sys.argv[2]), float(sys.argv[3]), fail_first, hang)
    print(json.dumps(result), flush=True)
