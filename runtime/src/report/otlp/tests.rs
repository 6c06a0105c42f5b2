//! The sink against a loopback HTTP server that answers as scripted: retries, refusals,
//! headers and bodies as sent. (What the bodies hold is checked by OpenTelemetry's own
//! generated classes, in `runtime/tests/otlp.rs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::*;
use crate::report::Process;
use crate::testing::Capture;
use crate::SpanRecord;

/// One request as received.
struct Request {
    /// The request line and headers, names lowercased.
    head: Vec<String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            (n == name).then(|| v.trim())
        })
    }
}

/// A server on 127.0.0.1 answering each request with the next of `answers` (a status line and
/// headers; 500 once they run out). It stops when told, or after 20 s, whichever is first.
struct Receiver {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Request>>,
}

impl Receiver {
    fn start(answers: &[&'static str]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answers = answers.to_vec();
        let stopped = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut requests = Vec::new();
            while !stopped.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream);
                let mut head = Vec::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end().to_owned();
                    if line.is_empty() {
                        break;
                    }
                    head.push(match line.split_once(':') {
                        Some((n, v)) if !head.is_empty() => {
                            format!("{}:{v}", n.to_ascii_lowercase())
                        }
                        _ => line,
                    });
                }
                let mut request = Request {
                    head,
                    body: Vec::new(),
                };
                let length: u64 = request.header("content-length").unwrap().parse().unwrap();
                (&mut reader)
                    .take(length)
                    .read_to_end(&mut request.body)
                    .unwrap();
                let answer = answers
                    .get(requests.len())
                    .copied()
                    .unwrap_or("HTTP/1.1 500 Internal Server Error");
                let mut stream = reader.into_inner();
                write!(stream, "{answer}\r\nContent-Length: 0\r\n\r\n").unwrap();
                requests.push(request);
            }
            requests
        });
        Receiver {
            address,
            stop,
            handle,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/traces", self.address)
    }

    /// Stops the server: every request it received.
    fn requests(self) -> Vec<Request> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

#[crate::traced(crate = crate, kind = server, tags(db.type = "mongo"))]
fn handle() {
    crate::log("cache miss");
}

/// Real spans, made by a traced function.
fn spans() -> Vec<SpanRecord> {
    let capture = Capture::install();
    handle();
    capture.take()
}

fn send(sink: &mut OtlpSink) -> Result<Sent, SinkError> {
    let process = Process::new("gallery");
    let spans = spans();
    sink.send(&Batch::new(&process, &spans))
}

fn sink(receiver: &Receiver) -> OtlpSink {
    OtlpSink::new(&receiver.url())
        .unwrap()
        .retries(3, Duration::from_millis(1))
}

#[test]
fn a_429_is_retried_after_its_retry_after_and_the_batch_is_delivered_once() {
    let receiver = Receiver::start(&[
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0",
        "HTTP/1.1 200 OK",
    ]);
    // A backoff of an hour: only the answer's Retry-After lets this test finish.
    let mut sink = OtlpSink::new(&receiver.url())
        .unwrap()
        .retries(3, Duration::from_secs(3600));
    let sent = send(&mut sink).unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "one refused, one accepted");
    assert_eq!(requests[0].body, requests[1].body, "the same batch again");
    assert_eq!(sent.batches, 1);
    assert_eq!(sent.bytes, requests[1].body.len() as u64);
}

#[test]
fn a_400_is_final_and_sent_once() {
    let receiver = Receiver::start(&["HTTP/1.1 400 Bad Request"]);
    let error = send(&mut sink(&receiver)).unwrap_err().to_string();
    assert_eq!(receiver.requests().len(), 1);
    assert!(error.contains("answered 400"), "{error}");
}

#[test]
fn only_429_502_503_and_504_are_retried() {
    let receiver = Receiver::start(&[
        "HTTP/1.1 502 Bad Gateway",
        "HTTP/1.1 503 Service Unavailable",
        "HTTP/1.1 504 Gateway Timeout",
        "HTTP/1.1 204 No Content",
    ]);
    send(&mut sink(&receiver)).unwrap();
    assert_eq!(receiver.requests().len(), 4);

    let receiver = Receiver::start(&["HTTP/1.1 500 Internal Server Error"]);
    let error = send(&mut sink(&receiver)).unwrap_err().to_string();
    assert_eq!(receiver.requests().len(), 1, "a 500 is not retried");
    assert!(error.contains("answered 500"), "{error}");
}

#[test]
fn retries_stop_after_the_configured_count() {
    let receiver = Receiver::start(&["HTTP/1.1 503 Service Unavailable"; 9]);
    let error = send(&mut sink(&receiver)).unwrap_err().to_string();
    assert_eq!(receiver.requests().len(), 4, "the first try and 3 retries");
    assert!(
        error.contains("answered 503 (4 attempts)") && error.contains("/v1/traces"),
        "{error}"
    );
}

#[test]
fn a_backend_that_is_not_there_is_retried_then_failed() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/traces", closed.local_addr().unwrap());
    drop(closed);
    let mut sink = OtlpSink::new(&url)
        .unwrap()
        .retries(1, Duration::from_millis(1));
    let error = send(&mut sink).unwrap_err().to_string();
    assert!(
        error.contains("failed:") && error.contains("(2 attempts)"),
        "{error}"
    );
}

#[test]
fn requests_carry_their_content_type_encoding_and_headers() {
    let receiver = Receiver::start(&["HTTP/1.1 200 OK"; 3]);
    let process = Process::new("gallery");
    let spans = spans();
    let batch = Batch::new(&process, &spans);
    let plain = sink(&receiver)
        .header("x-api-key", "s3cr3t")
        .unwrap()
        .header("X-Tenant", "acme")
        .unwrap();
    let mut plain_sink = plain;
    plain_sink.send(&batch).unwrap();
    let mut gzip = sink(&receiver).compression(Compression::Gzip);
    gzip.send(&batch).unwrap();
    let mut json = sink(&receiver).protocol(OtlpProtocol::Json);
    json.send(&batch).unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);

    let plain = &requests[0];
    assert_eq!(plain.head[0], "POST /v1/traces HTTP/1.1");
    assert_eq!(plain.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("x-api-key"), Some("s3cr3t"));
    assert_eq!(plain.header("x-tenant"), Some("acme"));

    let gzipped = &requests[1];
    assert_eq!(
        gzipped.header("content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gzipped.header("x-api-key"), None);
    let deflated = &gzipped.body[10..gzipped.body.len() - 8];
    assert_eq!(
        miniz_oxide::inflate::decompress_to_vec(deflated).unwrap(),
        plain.body,
        "the gzipped body inflates to the protobuf one"
    );

    let json = &requests[2];
    assert_eq!(json.header("content-type"), Some("application/json"));
    let value: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    let span = &value["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["name"], "handle");
    assert_eq!(span["kind"], 2);
}

#[test]
fn endpoints_and_headers_are_checked() {
    let error = |url: &str| OtlpSink::new(url).unwrap_err().to_string();
    assert!(error("https://otel:4318/v1/traces").contains("https is not supported"));
    assert!(error("http://user:pw@otel:4318/v1/traces").contains("OTEL_EXPORTER_OTLP_HEADERS"));
    assert!(error("otel:4318").starts_with("endpoint \"otel:4318\""));
    let sink = OtlpSink::new("http://otel:4318/v1/traces").unwrap();
    assert_eq!(sink.url(), "http://otel:4318/v1/traces");
    let sink = sink.header("x-api-key", "s3cr3t").unwrap();
    assert!(!format!("{sink:?}").contains("s3cr3t"), "{sink:?}");
    assert!(sink
        .header("bad name", "v")
        .unwrap_err()
        .to_string()
        .contains("\"bad name\" is not an HTTP token"));
    let sink = OtlpSink::new(OtlpSink::DEFAULT_ENDPOINT).unwrap();
    assert!(sink
        .header("x", "a\r\nInjected: 1")
        .unwrap_err()
        .to_string()
        .contains("control character"));
}
