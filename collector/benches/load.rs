//! Ingest under load, as real agents and clients offer it: sender processes (this binary, run
//! again as a sender) send spans at fixed rates over loopback to a collector in this process,
//! for a fixed time; then the collector's own counters (`/api/stats`) say what arrived and
//! where the rest went. Per offered rate and run: spans sent, received, lost, and the
//! datagrams the kernel and the queue dropped (UDP), or the requests refused (HTTP).
//!
//! UDP: spans of about 300 bytes in datagrams of up to 65,000 bytes (the Node client's packet
//! size), thrift compact, as an agent client sends them; also a burst of 225 such datagrams sent
//! back to back. HTTP: several clients, each on its own keep-alive connection, POST thrift
//! binary batches of 100 spans. OTLP: the same clients POST OTLP/HTTP protobuf batches of 100
//! spans of the same content (name, kind, the four other tags, the log as an event), encoded by
//! traced's `OtlpSink`, to the collector's OTLP port.
//!
//! ```text
//! cargo bench -p traced-collector --bench load                  # release (the bench profile)
//! cargo bench -p traced-collector --bench load --profile dev    # debug, as `cargo run` builds it
//! cargo bench -p traced-collector --bench load -- --udp 200000 --http 50000 --seconds 10 --runs 5
//! cargo bench -p traced-collector --bench load -- --udp '' --http 400000   # HTTP only
//! cargo bench -p traced-collector --bench load -- --udp '' --http '' --otlp 100000,200000
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustracing_jaeger::thrift::{agent, jaeger};
use serde_json::Value;
use thrift_codec::data::Struct;
use thrift_codec::message::Message;
use thrift_codec::{BinaryEncode, CompactEncode};
use traced::report::{Batch, OtlpSink, Process};
use traced_collector::{Collector, Config};

/// The Node client's largest datagram.
const MAX_DATAGRAM: usize = 65_000;
/// Spans per HTTP batch.
const HTTP_BATCH: usize = 100;

fn span(trace: i64, id: i64) -> jaeger::Span {
    jaeger::Span {
        trace_id_low: trace,
        trace_id_high: 0x10ad,
        span_id: id,
        parent_span_id: if id > 1 { 1 } else { 0 },
        operation_name: "GET /v0/images/{id}/thumbnail".into(),
        references: Vec::new(),
        flags: 1,
        start_time: 1_700_000_000_000_000 + id,
        duration: 1_000 + id,
        tags: vec![
            jaeger::Tag::String {
                key: "db.statement".into(),
                value: "SELECT id, name, size, created FROM images WHERE owner = ?".into(),
            },
            jaeger::Tag::String {
                key: "span.kind".into(),
                value: "client".into(),
            },
            jaeger::Tag::String {
                key: "http.url".into(),
                value: "http://gallery-catalog:8081/v0/images?owner=42&limit=50".into(),
            },
            jaeger::Tag::Long {
                key: "rows".into(),
                value: id,
            },
            jaeger::Tag::Bool {
                key: "error".into(),
                value: false,
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

fn batch(trace: i64, spans: usize) -> jaeger::Batch {
    jaeger::Batch {
        process: jaeger::Process {
            service_name: "load".into(),
            tags: vec![jaeger::Tag::String {
                key: "hostname".into(),
                value: "bench".into(),
            }],
        },
        spans: (1..=spans as i64).map(|id| span(trace, id)).collect(),
    }
}

fn datagram(trace: i64, spans: usize) -> Vec<u8> {
    let mut out = Vec::new();
    Message::from(agent::EmitBatchNotification {
        batch: batch(trace, spans),
    })
    .compact_encode(&mut out)
    .expect("encodes");
    out
}

/// The most spans a datagram holds within `MAX_DATAGRAM` bytes, whatever its trace id (the
/// longest varint sized here).
fn spans_per_datagram() -> usize {
    (1..)
        .take_while(|&n| datagram(i64::MIN, n).len() <= MAX_DATAGRAM)
        .last()
        .unwrap_or(1)
}

fn http_body(trace: i64) -> Vec<u8> {
    let mut out = Vec::new();
    Struct::from(batch(trace, HTTP_BATCH))
        .binary_encode(&mut out)
        .expect("encodes");
    out
}

/// A span as `span` describes it, recorded by traced (the statement and URL are the same), with
/// `children - 1` children of its own: `batch`'s trace of 100 spans is one call with 100.
#[traced::traced(
    name = "GET /v0/images/{id}/thumbnail",
    kind = client,
    tags(
        db.statement = "SELECT id, name, size, created FROM images WHERE owner = ?",
        http.url = "http://gallery-catalog:8081/v0/images?owner=42&limit=50",
        rows = rows,
        error = false,
    )
)]
fn thumbnail_query(rows: i64, children: i64) {
    traced::log_fields([("event", "query done")]);
    for rows in 1..children {
        thumbnail_query(rows, 0);
    }
}

/// The OTLP twin of `http_body`: `bodies` `ExportTraceServiceRequest`s (protobuf), each one
/// trace of `HTTP_BATCH` spans, made by traced and encoded by its `OtlpSink`.
fn otlp_bodies(bodies: usize) -> Vec<Vec<u8>> {
    let capture = traced::testing::Capture::install();
    for _ in 0..bodies {
        thumbnail_query(0, HTTP_BATCH as i64);
    }
    let spans = capture.take();
    let process = Process::new("load");
    let sink = OtlpSink::new(OtlpSink::DEFAULT_ENDPOINT).expect("an endpoint");
    spans
        .chunks(HTTP_BATCH)
        .map(|chunk| sink.body(&Batch::new(&process, chunk)))
        .collect()
}

/// Sleeps until `at`, or not at all when late: senders keep their rate on average.
fn pace(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// A sender process: `--udp-sender ADDR RATE SECONDS SENDER`; prints the spans sent, 0 and
/// the milliseconds it took.
fn udp_sender(args: &[String]) {
    let target: SocketAddr = args[0].parse().expect("an address");
    let rate: f64 = args[1].parse().expect("a rate");
    let seconds: f64 = args[2].parse().expect("seconds");
    let sender: i64 = args[3].parse().expect("a sender number");
    let per = spans_per_datagram();
    // Distinct traces, encoded before the clock starts.
    let datagrams: Vec<Vec<u8>> = (0..64).map(|t| datagram(sender << 32 | t, per)).collect();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let interval = Duration::from_secs_f64(per as f64 / rate);
    let count = (seconds * rate / per as f64).round() as usize;
    let start = Instant::now();
    for i in 0..count {
        pace(start + interval * i as u32);
        socket
            .send_to(&datagrams[i % datagrams.len()], target)
            .expect("sends");
    }
    println!("{} 0 {}", count * per, start.elapsed().as_millis());
}

/// A burst sender: `--udp-burst ADDR DATAGRAMS`, back to back; prints the spans sent.
fn udp_burst(args: &[String]) {
    let target: SocketAddr = args[0].parse().expect("an address");
    let count: usize = args[1].parse().expect("a count");
    let per = spans_per_datagram();
    let datagrams: Vec<Vec<u8>> = (0..count as i64).map(|t| datagram(t, per)).collect();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("binds");
    for d in &datagrams {
        socket.send_to(d, target).expect("sends");
    }
    println!("{}", count * per);
}

/// An HTTP client process: `--http-sender ADDR RATE SECONDS SENDER` (Jaeger thrift to
/// `/api/traces`) or `--otlp-sender ...` (OTLP protobuf to `/v1/traces`), one keep-alive
/// connection; prints the spans sent in accepted batches, the batches refused and the
/// milliseconds it took (longer than asked when the collector answers slower than the rate).
fn http_sender(args: &[String], otlp: bool) {
    let target: SocketAddr = args[0].parse().expect("an address");
    let rate: f64 = args[1].parse().expect("a rate");
    let seconds: f64 = args[2].parse().expect("seconds");
    let sender: i64 = args[3].parse().expect("a sender number");
    let (bodies, path, content_type, accepted_status) = if otlp {
        (otlp_bodies(64), "/v1/traces", "application/x-protobuf", 200)
    } else {
        let bodies = (0..64).map(|t| http_body(sender << 32 | t)).collect();
        (bodies, "/api/traces", "application/x-thrift", 202)
    };
    let requests: Vec<Vec<u8>> = bodies
        .iter()
        .map(|body| {
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {target}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            [head.as_bytes(), body].concat()
        })
        .collect();
    let mut stream = TcpStream::connect(target).expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let interval = Duration::from_secs_f64(HTTP_BATCH as f64 / rate);
    let count = (seconds * rate / HTTP_BATCH as f64).round() as usize;
    let (mut accepted, mut refused) = (0, 0);
    let mut answer = Vec::with_capacity(4096);
    let start = Instant::now();
    for i in 0..count {
        pace(start + interval * i as u32);
        stream
            .write_all(&requests[i % requests.len()])
            .expect("writes");
        if read_status(&mut stream, &mut answer) == accepted_status {
            accepted += HTTP_BATCH;
        } else {
            refused += 1;
        }
    }
    println!("{accepted} {refused} {}", start.elapsed().as_millis());
}

/// Reads one HTTP answer (head and `Content-Length` body) from a keep-alive connection.
fn read_status(stream: &mut TcpStream, answer: &mut Vec<u8>) -> u16 {
    answer.clear();
    let mut byte = [0; 1024];
    let head_end = loop {
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut byte).expect("reads");
        assert!(n > 0, "the collector closed the connection");
        answer.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while answer.len() < head_end + length {
        let n = stream.read(&mut byte).expect("reads");
        assert!(n > 0, "the collector closed the connection");
        answer.extend_from_slice(&byte[..n]);
    }
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn stats(query: SocketAddr) -> Value {
    let mut stream = TcpStream::connect(query).expect("connects");
    stream
        .write_all(b"GET /api/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("writes");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("reads");
    serde_json::from_str(text.split_once("\r\n\r\n").expect("an answer").1).expect("JSON")
}

fn n(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or(0)
}

/// `/api/stats` once the queues are empty and nothing has changed for 300 ms (at most 60 s).
fn settled(query: SocketAddr) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = stats(query);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = stats(query);
        let drained =
            n(&now, "datagrams_decoded") + n(&now, "udp_queue_drops") == n(&now, "datagrams");
        if (drained && now["spans_received"] == last["spans_received"]) || Instant::now() > deadline
        {
            return now;
        }
        last = now;
    }
}

/// What the senders did: spans sent (accepted, for HTTP), batches refused, and the longest
/// time one took.
struct Sent {
    spans: u64,
    refused: u64,
    millis: u64,
}

/// Runs `senders` copies of this binary with `args` (and the sender's number), and adds up
/// what each printed.
fn run_senders(mode: &str, args: &[String], senders: usize) -> Sent {
    let exe = std::env::current_exe().expect("this binary");
    let children: Vec<_> = (0..senders)
        .map(|i| {
            Command::new(&exe)
                .arg(mode)
                .args(args)
                .arg((i + 1).to_string())
                .stdout(Stdio::piped())
                .spawn()
                .expect("a sender starts")
        })
        .collect();
    let mut sent = Sent {
        spans: 0,
        refused: 0,
        millis: 0,
    };
    for child in children {
        let out = child.wait_with_output().expect("a sender ends");
        assert!(out.status.success(), "a sender failed");
        let numbers: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|v| v.parse().expect("a number"))
            .collect();
        let [spans, refused, millis] = numbers[..] else {
            panic!("a sender printed {numbers:?}");
        };
        sent.spans += spans;
        sent.refused += refused;
        sent.millis = sent.millis.max(millis);
    }
    sent
}

fn collector() -> (tokio::runtime::Runtime, Collector) {
    // As `traced-collector` runs: the default runtime, default settings.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let collector = runtime
        .block_on(Collector::start(Config::ephemeral()))
        .expect("starts");
    (runtime, collector)
}

struct Row {
    /// Spans per second the senders achieved.
    achieved: u64,
    sent: u64,
    received: u64,
    kernel_drops: u64,
    queue_drops: u64,
    refused: u64,
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn report(what: &str, offered: &str, rows: &[Row]) {
    let lost: Vec<u64> = rows
        .iter()
        .map(|r| r.sent - r.received.min(r.sent))
        .collect();
    let received: Vec<String> = rows
        .iter()
        .map(|r| {
            let pct = 100.0 * r.received as f64 / r.sent.max(1) as f64;
            format!("{}/{} ({pct:.1}%)", r.received, r.sent)
        })
        .collect();
    println!(
        "{what:5} {offered:>22}  achieved median {:>7}/s  lost median {:>8}  max {:>8}  kernel drops {:?}  queue drops {:?}  refused {:?}  received {}",
        median(rows.iter().map(|r| r.achieved).collect()),
        median(lost.clone()),
        lost.iter().max().copied().unwrap_or(0),
        rows.iter().map(|r| r.kernel_drops).collect::<Vec<_>>(),
        rows.iter().map(|r| r.queue_drops).collect::<Vec<_>>(),
        rows.iter().map(|r| r.refused).collect::<Vec<_>>(),
        received.join(" "),
    );
}

fn udp_run(rate: u64, seconds: f64, senders: usize) -> Row {
    let (_runtime, collector) = collector();
    let args = [
        collector.udp_compact_addr().to_string(),
        (rate as f64 / senders as f64).to_string(),
        seconds.to_string(),
    ];
    let sent = run_senders("--udp-sender", &args, senders);
    let s = settled(collector.query_addr());
    Row {
        achieved: sent.spans * 1_000 / sent.millis.max(1),
        sent: sent.spans,
        received: n(&s, "spans_received"),
        kernel_drops: n(&s, "udp_kernel_drops"),
        queue_drops: n(&s, "udp_queue_drops"),
        refused: 0,
    }
}

fn burst_run(datagrams: usize) -> Row {
    let (_runtime, collector) = collector();
    let args = [
        collector.udp_compact_addr().to_string(),
        datagrams.to_string(),
    ];
    let exe = std::env::current_exe().expect("this binary");
    let out = Command::new(exe)
        .arg("--udp-burst")
        .args(args)
        .output()
        .expect("a sender runs");
    let sent = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number");
    let s = settled(collector.query_addr());
    Row {
        achieved: 0,
        sent,
        received: n(&s, "spans_received"),
        kernel_drops: n(&s, "udp_kernel_drops"),
        queue_drops: n(&s, "udp_queue_drops"),
        refused: 0,
    }
}

fn http_run(rate: u64, seconds: f64, clients: usize, otlp: bool) -> Row {
    let (_runtime, collector) = collector();
    let (target, mode) = if otlp {
        (
            collector.otlp_http_addr().expect("an OTLP port"),
            "--otlp-sender",
        )
    } else {
        (collector.http_addr(), "--http-sender")
    };
    let args = [
        target.to_string(),
        (rate as f64 / clients as f64).to_string(),
        seconds.to_string(),
    ];
    let sent = run_senders(mode, &args, clients);
    let s = settled(collector.query_addr());
    let spans = sent.spans + sent.refused * HTTP_BATCH as u64;
    Row {
        achieved: spans * 1_000 / sent.millis.max(1),
        sent: spans,
        received: n(&s, "spans_received"),
        kernel_drops: 0,
        queue_drops: 0,
        refused: sent.refused,
    }
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn rates(args: &[String], name: &str, default: &[u64]) -> Vec<u64> {
    option(args, name).map_or_else(
        || default.to_vec(),
        // `--udp ''` leaves that half out.
        |v| {
            v.split(',')
                .filter(|r| !r.is_empty())
                .map(|r| r.parse().expect("a rate"))
                .collect()
        },
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--udp-sender") => return udp_sender(&args[1..]),
        Some("--udp-burst") => return udp_burst(&args[1..]),
        Some("--http-sender") => return http_sender(&args[1..], false),
        Some("--otlp-sender") => return http_sender(&args[1..], true),
        _ => {}
    }
    // `cargo test --benches` runs each bench once to check it: a short run with no table.
    if !args.iter().any(|a| a == "--bench") {
        println!("load: run with `cargo bench -p traced-collector --bench load`");
        return;
    }
    let debug = cfg!(debug_assertions);
    let seconds: f64 = option(&args, "--seconds").map_or(10.0, |s| s.parse().expect("seconds"));
    let runs: usize = option(&args, "--runs").map_or(3, |s| s.parse().expect("runs"));
    let udp_rates = rates(
        &args,
        "--udp",
        if debug {
            &[25_000, 50_000, 100_000]
        } else {
            &[200_000, 400_000, 800_000]
        },
    );
    let http_rates = rates(
        &args,
        "--http",
        if debug {
            &[25_000, 50_000]
        } else {
            &[100_000, 200_000]
        },
    );
    let otlp_rates = rates(
        &args,
        "--otlp",
        if debug {
            &[25_000, 50_000]
        } else {
            &[100_000, 200_000]
        },
    );
    let (senders, clients) = (2, 4);
    let otlp_body = otlp_bodies(1);
    println!(
        "{} build; {seconds} s per run, {runs} runs; UDP: {senders} sender processes, {} spans of {} bytes a datagram; HTTP and OTLP: {clients} clients, batches of {HTTP_BATCH} spans ({} and {} bytes a span)",
        if debug { "debug" } else { "release" },
        spans_per_datagram(),
        datagram(i64::MIN, spans_per_datagram()).len() / spans_per_datagram(),
        http_body(0).len() / HTTP_BATCH,
        otlp_body[0].len() / HTTP_BATCH,
    );
    if option(&args, "--udp").is_none_or(|v| !v.is_empty()) {
        let rows: Vec<Row> = (0..runs).map(|_| burst_run(225)).collect();
        report("burst", "225 datagrams at once", &rows);
    }
    for rate in udp_rates {
        let rows: Vec<Row> = (0..runs).map(|_| udp_run(rate, seconds, senders)).collect();
        report("udp", &format!("{rate} spans/s"), &rows);
    }
    for rate in http_rates {
        let rows: Vec<Row> = (0..runs)
            .map(|_| http_run(rate, seconds, clients, false))
            .collect();
        report("http", &format!("{rate} spans/s"), &rows);
    }
    for rate in otlp_rates {
        let rows: Vec<Row> = (0..runs)
            .map(|_| http_run(rate, seconds, clients, true))
            .collect();
        report("otlp", &format!("{rate} spans/s"), &rows);
    }
}
