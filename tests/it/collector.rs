//! traced-collector against its clients: traced's own reporter (agent compact and binary, and
//! the collector's HTTP endpoint) and Uber's Python `jaeger-client` report to it, and its query
//! API returns their spans intact, in Jaeger's JSON. Hostile input is rejected and counted while
//! good traffic keeps flowing.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use serde_json::Value;
use traced::report::{Auth, Protocol};
use traced::{Config, Sampler, traced};
use traced_collector::Collector;

#[traced(tags(db.type = "mongo", rows = 3, ratio = 0.5, cached = false))]
fn get_all_images() -> Result<usize, std::io::Error> {
    traced::log_fields([("event", "query"), ("filter", "{}")]);
    Err(std::io::Error::other("timeout"))
}

#[traced(kind = server, name = "HTTP GET /v0/images")]
fn handle() {
    let _ = get_all_images();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn get_json(url: String) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Waits (bounded) until the collector holds `spans` spans.
fn wait_for(collector: &Collector, spans: usize) {
    for _ in 0..200 {
        if collector.store().stats().0 >= spans {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "the collector holds {} spans, not {spans}",
        collector.store().stats().0
    );
}

fn tag<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("a tag {key} in {span}"))
}

#[test]
fn traced_reports_over_compact_binary_and_http_and_the_query_api_returns_it_intact() {
    let _exclusive = traced::testing::exclusive();
    let rt = runtime();
    let collector = rt
        .block_on(Collector::start(traced_collector::Config::ephemeral()))
        .unwrap();
    let query = collector.query_addr();
    let destinations = [
        (
            "svc-compact",
            Config::new("svc-compact")
                .agent_with(collector.udp_compact_addr().to_string(), Protocol::Compact),
        ),
        (
            "svc-binary",
            Config::new("svc-binary")
                .agent_with(collector.udp_binary_addr().to_string(), Protocol::Binary),
        ),
        (
            "svc-http",
            Config::new("svc-http").collector(
                format!("http://{}/api/traces", collector.http_addr()),
                Auth::None,
            ),
        ),
    ];
    for (n, (service, config)) in destinations.into_iter().enumerate() {
        let guard = traced::init(config.sampler(Sampler::always()).tag("region", "eu")).unwrap();
        handle();
        drop(guard);
        wait_for(&collector, 2 * (n + 1));

        let (status, found) = rt.block_on(get_json(format!(
            "http://{query}/api/traces?service={service}&lookback=1h"
        )));
        assert_eq!(status, 200, "{found}");
        // Jaeger's search answers `total: 0` whatever it found; the traces are in `data`.
        assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");
        let trace = &found["data"][0];
        let spans = trace["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        let root = spans
            .iter()
            .find(|s| s["operationName"] == "HTTP GET /v0/images")
            .unwrap();
        let child = spans
            .iter()
            .find(|s| s["operationName"] == "get_all_images")
            .unwrap();
        assert_eq!(root["references"], serde_json::json!([]));
        assert_eq!(child["references"][0]["refType"], "CHILD_OF");
        assert_eq!(child["references"][0]["spanID"], root["spanID"]);
        assert_eq!(child["traceID"], trace["traceID"]);
        assert_eq!(trace["traceID"].as_str().unwrap().len(), 32, "128-bit ids");
        assert_eq!(tag(child, "db.type")["type"], "string");
        assert_eq!(tag(child, "db.type")["value"], "mongo");
        assert_eq!(tag(child, "rows")["type"], "int64");
        assert_eq!(tag(child, "rows")["value"], 3);
        assert_eq!(tag(child, "ratio")["type"], "float64");
        assert_eq!(tag(child, "cached")["value"], false);
        assert_eq!(tag(child, "error")["value"], true);
        assert_eq!(tag(root, "span.kind")["value"], "server");
        let logs = child["logs"].as_array().unwrap();
        assert_eq!(logs[0]["fields"][0]["value"], "query");
        assert!(logs[0]["timestamp"].as_i64().unwrap() >= child["startTime"].as_i64().unwrap());
        assert!(child["duration"].as_i64().unwrap() <= root["duration"].as_i64().unwrap());
        let process = &trace["processes"][root["processID"].as_str().unwrap()];
        assert_eq!(process["serviceName"], service);
        assert!(
            process["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "region" && t["value"] == "eu")
        );

        // The same trace by id, and the services and operations lists.
        let id = trace["traceID"].as_str().unwrap();
        let (status, by_id) = rt.block_on(get_json(format!("http://{query}/api/traces/{id}")));
        assert_eq!(status, 200);
        assert_eq!(by_id["data"][0]["spans"].as_array().unwrap().len(), 2);
        let (_, services) = rt.block_on(get_json(format!("http://{query}/api/services")));
        assert!(
            services["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == service)
        );
        let (_, operations) = rt.block_on(get_json(format!(
            "http://{query}/api/services/{service}/operations"
        )));
        assert_eq!(
            operations["data"],
            serde_json::json!(["HTTP GET /v0/images", "get_all_images"])
        );
    }
    // Searches: by operation, tags and duration, and errors for bad parameters.
    let (_, errors) = rt.block_on(get_json(format!(
        "http://{query}/api/traces?service=svc-http&tags=%7B%22error%22%3A%22true%22%7D"
    )));
    assert_eq!(errors["data"].as_array().map(Vec::len), Some(1), "{errors}");
    let (_, none) = rt.block_on(get_json(format!(
        "http://{query}/api/traces?service=svc-http&minDuration=1h"
    )));
    assert_eq!(none["data"].as_array().map(Vec::len), Some(0), "{none}");
    let (status, bad) = rt.block_on(get_json(format!(
        "http://{query}/api/traces?service=svc-http&minDuration=soon"
    )));
    assert_eq!(status, 400);
    assert!(
        bad["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("minDuration")
    );
    let (status, missing) = rt.block_on(get_json(format!(
        "http://{query}/api/traces/0000000000000000000000000000abcd"
    )));
    assert_eq!(
        (status, missing["errors"][0]["code"].clone()),
        (404, serde_json::json!(404))
    );
    assert_eq!(
        collector
            .stats()
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn uber_python_jaeger_client_reports_to_the_collector_over_udp() {
    let rt = runtime();
    let collector = rt
        .block_on(Collector::start(traced_collector::Config::ephemeral()))
        .unwrap();
    let output = std::process::Command::new(support::python())
        .arg(support::script("jaeger_peer.py"))
        .args(["report", &collector.udp_compact_addr().port().to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent: Value = serde_json::from_slice(&output.stdout).unwrap();
    wait_for(&collector, 2);
    let trace_id = sent[0]["trace_id"].as_str().unwrap();
    let (status, got) = rt.block_on(get_json(format!(
        "http://{}/api/traces/{trace_id:0>16}",
        collector.query_addr()
    )));
    assert_eq!(status, 200, "{got}");
    let trace = &got["data"][0];
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let hex = |v: &Value| u64::from_str_radix(v.as_str().unwrap(), 16).unwrap();
    let root = spans
        .iter()
        .find(|s| s["operationName"] == "python-root")
        .unwrap();
    let child = spans
        .iter()
        .find(|s| s["operationName"] == "python-child")
        .unwrap();
    assert_eq!(hex(&root["spanID"]), hex(&sent[0]["span_id"]));
    assert_eq!(hex(&child["spanID"]), hex(&sent[1]["span_id"]));
    assert_eq!(child["references"][0]["spanID"], root["spanID"]);
    assert_eq!(tag(root, "answer")["value"], 42);
    assert_eq!(tag(root, "component")["value"], "interop");
    assert_eq!(tag(child, "error")["value"], true);
    assert_eq!(child["logs"][0]["fields"][1]["value"], "images/7");
    let process = &trace["processes"][root["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], "python-agent-client");
    assert!(
        process["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "jaeger.version"
                && t["value"].as_str().unwrap().starts_with("Python-")),
        "{process}"
    );
}

/// Sends raw bytes as one HTTP request and returns the status line.
fn raw_http(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn hostile_input_is_rejected_and_counted_and_good_traffic_keeps_flowing() {
    let _exclusive = traced::testing::exclusive();
    let rt = runtime();
    let config = traced_collector::Config {
        body_timeout: Duration::from_millis(500),
        ..traced_collector::Config::ephemeral()
    };
    let collector = rt.block_on(Collector::start(config)).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let compact = collector.udp_compact_addr();
    let binary = collector.udp_binary_addr();
    let mut bad_datagrams: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        vec![],
        vec![0x82],
        // A compact message whose name claims 2 GB.
        vec![0x82, 0x21, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x07],
        // emitZipkinBatch, not emitBatch.
        [
            vec![0x82, 0x21, 0x00, 15],
            b"emitZipkinBatch".to_vec(),
            vec![0],
        ]
        .concat(),
        // emitBatch whose batch is a list claiming 2^31 structs.
        [
            vec![0x82, 0x21, 0x00, 9],
            b"emitBatch".to_vec(),
            vec![0x1C, 0x19, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x07],
        ]
        .concat(),
        // emitBatch nested 60,000 structs deep.
        [
            vec![0x82, 0x21, 0x00, 9],
            b"emitBatch".to_vec(),
            vec![0x1C; 60_000],
        ]
        .concat(),
        // A field of the wrong type: the batch as an i32.
        [
            vec![0x82, 0x21, 0x00, 9],
            b"emitBatch".to_vec(),
            vec![0x15, 0x02, 0x00],
        ]
        .concat(),
    ];
    // A valid datagram, truncated at every length.
    let valid = {
        let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
        agent
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let guard =
            traced::init(Config::new("truncated").agent(agent.local_addr().unwrap().to_string()))
                .unwrap();
        handle();
        drop(guard);
        let mut buf = vec![0; 65_536];
        let n = agent.recv(&mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    for len in (0..valid.len()).step_by(7) {
        bad_datagrams.push(valid[..len].to_vec());
    }
    for d in &bad_datagrams {
        udp.send_to(d, compact).unwrap();
    }
    udp.send_to(b"\x80\x01\x00\x04junk", binary).unwrap();
    let http = collector.http_addr();
    let garbage = raw_http(http, b"POST /api/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-thrift\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    assert!(garbage.contains(" 400 "), "{garbage}");
    let wrong_type = raw_http(http, b"POST /api/traces HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
    // As Jaeger's collector answers it (its words are checked in the collector's own tests).
    assert!(wrong_type.contains(" 400 "), "{wrong_type}");
    let huge = raw_http(http, b"POST /api/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-thrift\r\nContent-Length: 2147483648\r\nConnection: close\r\n\r\nabc");
    assert!(huge.contains(" 413 "), "{huge}");
    // A slow-loris body: half sent, then nothing.
    let slow = raw_http(http, b"POST /api/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-thrift\r\nContent-Length: 100\r\nConnection: close\r\n\r\nabc");
    assert!(slow.contains(" 408 "), "{slow}");

    // Good traffic, after all that.
    let guard = traced::init(
        Config::new("still-fine")
            .sampler(Sampler::always())
            .agent(compact.to_string()),
    )
    .unwrap();
    handle();
    drop(guard);
    let expected_rejections = bad_datagrams.len() as u64 + 1 + 4;
    for _ in 0..200 {
        let rejected = collector
            .stats()
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed);
        if rejected >= expected_rejections
            && collector
                .store()
                .services()
                .contains(&"still-fine".to_owned())
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(
        collector
            .stats()
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed),
        expected_rejections,
        "{:?}",
        collector.stats().last_rejection
    );
    assert_eq!(collector.store().services(), ["still-fine"]);
}
