//! What the agent-port tests share: a collector on ephemeral ports, agent datagrams of
//! ~300-byte spans as Jaeger clients encode them (rustracing_jaeger's thrift types), and the
//! query API read over plain HTTP.

// Each test binary uses its part of these.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use rustracing_jaeger::thrift::{agent, jaeger};
use serde_json::Value;
use thrift_codec::data::Struct;
use thrift_codec::message::Message;
use thrift_codec::{BinaryEncode, CompactEncode};
use traced_collector::thrift::Protocol;
use traced_collector::{Collector, Config};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

pub(crate) fn start(config: Config) -> (tokio::runtime::Runtime, Collector) {
    let runtime = runtime();
    let collector = runtime
        .block_on(Collector::start(config))
        .expect("the collector starts");
    (runtime, collector)
}

/// A span of about 300 bytes encoded, as the load benchmark sends.
pub(crate) fn span(trace: i64, id: i64) -> jaeger::Span {
    jaeger::Span {
        trace_id_low: trace,
        trace_id_high: 0x5eed,
        span_id: id,
        parent_span_id: if id > 1 { 1 } else { 0 },
        operation_name: format!("GET /v0/images/{id}"),
        references: Vec::new(),
        flags: 1,
        start_time: 1_700_000_000_000_000 + id,
        duration: 1_000 + id,
        tags: vec![
            jaeger::Tag::String {
                key: "db.statement".into(),
                value: "SELECT id, name, size, created FROM images WHERE owner = ?".into(),
            },
            jaeger::Tag::Long {
                key: "rows".into(),
                value: id,
            },
            jaeger::Tag::Bool {
                key: "error".into(),
                value: id % 2 == 0,
            },
        ],
        logs: vec![jaeger::Log {
            timestamp: 1_700_000_000_000_000 + id,
            fields: vec![jaeger::Tag::String {
                key: "event".into(),
                value: "query done".into(),
            }],
        }],
    }
}

/// A batch of `spans` spans of trace `trace`, from the `udp-test` service.
pub(crate) fn batch(trace: i64, spans: i64) -> jaeger::Batch {
    jaeger::Batch {
        process: jaeger::Process {
            service_name: "udp-test".into(),
            tags: vec![jaeger::Tag::String {
                key: "hostname".into(),
                value: "box".into(),
            }],
        },
        spans: (1..=spans).map(|id| span(trace, id)).collect(),
    }
}

/// An agent's `emitBatch` datagram of `spans` spans of trace `trace`.
pub(crate) fn datagram(trace: i64, spans: i64, protocol: Protocol) -> Vec<u8> {
    let message = Message::from(agent::EmitBatchNotification {
        batch: batch(trace, spans),
    });
    let mut out = Vec::new();
    match protocol {
        Protocol::Compact => message.compact_encode(&mut out),
        Protocol::Binary => message.binary_encode(&mut out),
    }
    .expect("encodes");
    out
}

/// A `POST /api/traces` body: the batch as a thrift binary struct.
pub(crate) fn http_body(batch: jaeger::Batch) -> Vec<u8> {
    let mut out = Vec::new();
    Struct::from(batch)
        .binary_encode(&mut out)
        .expect("encodes");
    out
}

/// Sends `request` as it is to `addr`, closing the sending half after it when `half_close`,
/// and reads the answer: its status, its head, its body.
pub(crate) fn raw(addr: SocketAddr, request: &[u8], half_close: bool) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    stream.write_all(request).expect("writes");
    if half_close {
        stream.shutdown(Shutdown::Write).expect("shuts its half");
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an HTTP answer, not {response:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    (status.expect("a status"), head.to_owned(), body.to_owned())
}

/// GETs `path` from `addr`: the status and the JSON body (null when it is none).
pub(crate) fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (status, _, body) = raw(addr, request.as_bytes(), false);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `/api/stats`, once `done` says the counters have settled (bounded: 10 s).
pub(crate) fn settled_stats(collector: &Collector, done: impl Fn(&Value) -> bool) -> Value {
    let mut stats = Value::Null;
    for _ in 0..400 {
        stats = get(collector.query_addr(), "/api/stats").1;
        if done(&stats) {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the counters did not settle: {stats:#}");
}

pub(crate) fn count(stats: &Value, key: &str) -> u64 {
    stats[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {stats:#}"))
}
