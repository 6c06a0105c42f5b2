//! "Where is the slowdown?" over HTTP and in the terminal: a trace's critical path, latency per
//! operation, the service graph's calls and failures, and slow-versus-typical attribution, from
//! traces of known shapes put into a running collector's store.

mod agent;
mod analysis_traces;

use std::process::Command;

use agent::{get, raw, start};
use analysis_traces::{base, span, thumbnails};
use serde_json::{Value, json};
use traced::TraceId;
use traced_collector::Config;

fn get_text(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (status, _, body) = raw(addr, request.as_bytes(), false);
    (status, body)
}

#[test]
fn a_traces_critical_path_is_served_with_each_spans_time_on_it() {
    let (_runtime, collector) = start(Config::ephemeral());
    let t = base();
    // The catalog (10..40 ms) runs beside the store (20..90 ms): the API waited on the store,
    // and before it started on nothing but itself.
    collector.store().add(vec![
        span(1, 1, 0, "api", "GET", t, 100_000, false),
        span(1, 2, 1, "catalog", "find", t + 10_000, 30_000, false),
        span(1, 3, 1, "store", "read", t + 20_000, 70_000, false),
    ]);
    let id = TraceId::new(0x16, 1).to_string();
    let (status, answer) = get(collector.query_addr(), &format!("/api/critical-path/{id}"));
    assert_eq!(status, 200, "{answer}");
    let at = |us: i64| json!(t + us);
    assert_eq!(
        answer,
        json!({"data": {
            "traceID": id,
            "sections": [
                {"spanID": "0000000000000001", "start": at(90_000), "end": at(100_000)},
                {"spanID": "0000000000000003", "start": at(20_000), "end": at(90_000)},
                {"spanID": "0000000000000001", "start": at(0), "end": at(20_000)},
            ],
            "spans": [
                {"spanID": "0000000000000003", "time": 70_000},
                {"spanID": "0000000000000001", "time": 30_000},
            ],
        }})
    );
    let (status, missing) = get(
        collector.query_addr(),
        "/api/critical-path/000000000000000000000000000000ff",
    );
    assert_eq!(
        (status, &missing["errors"][0]["msg"]),
        (404, &json!("trace not found"))
    );
    let (status, _) = get(collector.query_addr(), "/api/critical-path/nope");
    assert_eq!(status, 400);
}

#[test]
fn latency_per_operation_is_served_as_json_and_as_the_terminal_table() {
    let (_runtime, collector) = start(Config::ephemeral());
    let t = base();
    collector.store().add(thumbnails(t));
    let end_ms = (t + 60_000_000) / 1_000;
    let window = format!("endTs={end_ms}&lookback=120000");
    let (status, answer) = get(collector.query_addr(), &format!("/api/latency?{window}"));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"],
        json!([
            {"service": "gallery-api", "operation": "GET /thumbnail", "requests": 10,
             "rate": 10.0 / 120.0, "errors": 0, "errorRate": 0.0,
             "p50": 60_000, "p95": 700_000, "p99": 700_000},
            {"service": "gallery-store", "operation": "make_thumbnail", "requests": 1,
             "rate": 1.0 / 120.0, "errors": 0, "errorRate": 0.0,
             "p50": 640_000, "p95": 640_000, "p99": 640_000},
            {"service": "gallery-store", "operation": "read_blob", "requests": 10,
             "rate": 10.0 / 120.0, "errors": 1, "errorRate": 0.1,
             "p50": 50_000, "p95": 50_000, "p99": 50_000},
        ])
    );
    let (_, one) = get(
        collector.query_addr(),
        &format!("/api/latency?{window}&service=gallery-api"),
    );
    assert_eq!(one["data"].as_array().map(Vec::len), Some(1));
    let (_, before) = get(
        collector.query_addr(),
        &format!("/api/latency?endTs={}&lookback=1000", t / 1_000 - 1),
    );
    assert_eq!(before["data"], json!([]));

    let (status, text) = get_text(
        collector.query_addr(),
        &format!("/api/latency?{window}&format=text"),
    );
    assert_eq!(status, 200);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "service operation             requests     req/s  errors   err %        p50        p95        p99",
            "gallery-api GET /thumbnail          10     0.083       0    0.0%    60.00ms   700.00ms   700.00ms",
            "gallery-store make_thumbnail         1     0.008       0    0.0%   640.00ms   640.00ms   640.00ms",
            "gallery-store read_blob             10     0.083       1   10.0%    50.00ms    50.00ms    50.00ms",
        ]
    );
    let (status, bad) = get(collector.query_addr(), "/api/latency?lookback=an-hour");
    assert_eq!(status, 400, "{bad}");
}

#[test]
fn dependencies_count_each_links_calls_and_failed_calls() {
    let (_runtime, collector) = start(Config::ephemeral());
    let t = base();
    collector.store().add(thumbnails(t));
    let end_ms = (t + 60_000_000) / 1_000;
    let (status, answer) = get(
        collector.query_addr(),
        &format!("/api/dependencies?endTs={end_ms}&lookback=120000"),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"data": [{"parent": "gallery-api", "child": "gallery-store", "callCount": 11, "errorCount": 1}],
               "errors": null, "limit": 0, "offset": 0, "total": 0})
    );
}

#[test]
fn attribution_names_the_span_that_makes_the_slow_tail_slow() {
    let (_runtime, collector) = start(Config::ephemeral());
    let t = base();
    collector.store().add(thumbnails(t));
    let end_ms = (t + 60_000_000) / 1_000;
    let ask = format!(
        "/api/attribution?service=gallery-api&operation=GET%20%2Fthumbnail&endTs={end_ms}&lookback=120000"
    );
    let (status, answer) = get(collector.query_addr(), &ask);
    assert_eq!(status, 200, "{answer}");
    let data = &answer["data"];
    assert_eq!(
        data["slow"],
        json!({"requests": 1, "meanDuration": 700_000.0, "bound": 700_000})
    );
    assert_eq!(
        data["typical"],
        json!({"requests": 9, "meanDuration": 60_000.0, "bound": 60_000})
    );
    assert_eq!(data["difference"], json!(640_000.0));
    assert_eq!(
        data["causes"][0],
        json!({"service": "gallery-store", "operation": "make_thumbnail", "slow": 640_000.0,
               "typical": 0.0, "difference": 640_000.0, "share": 1.0, "inSlow": 1.0, "inTypical": 0.0})
    );
    let causes: Vec<&Value> = data["causes"].as_array().expect("causes").iter().collect();
    assert_eq!(causes.len(), 3);
    assert!(
        causes[1..].iter().all(|c| c["difference"] == json!(0.0)),
        "{data:#}"
    );
    assert_eq!(
        data["stacks"][1],
        json!({"frames": "gallery-api GET /thumbnail;gallery-store make_thumbnail", "slow": 640_000.0, "typical": 0.0})
    );

    let (status, text) = get_text(collector.query_addr(), &format!("{ask}&format=text"));
    assert_eq!(status, 200);
    assert_eq!(
        text,
        "gallery-api GET /thumbnail: 1 slow request (>= p95 = 700.00ms, mean 700.00ms) against 9 \
         typical (<= p50 = 60.00ms, mean 60.00ms): 640.00ms between typical and slow\n  \
         make_thumbnail (gallery-store): 640.00ms of the 640.00ms between typical and slow, in 100% \
         of slow traces and 0% of typical ones\n"
    );

    let (status, _) = get(
        collector.query_addr(),
        "/api/attribution?service=gallery-api",
    );
    assert_eq!(status, 400);
    let (status, _) = get(collector.query_addr(), &format!("{ask}&percentile=40"));
    assert_eq!(status, 400, "the slow tail starts above the median");
    let (status, none) = get(
        collector.query_addr(),
        "/api/attribution?service=gallery-api&operation=POST",
    );
    assert_eq!(status, 404);
    assert_eq!(
        none["errors"][0]["msg"],
        "no gallery-api POST requests in the window"
    );
}

#[test]
fn the_terminal_commands_print_latency_attribution_and_the_critical_path() {
    let (_runtime, collector) = start(Config::ephemeral());
    let t = base();
    collector.store().add(thumbnails(t));
    let query = collector.query_addr().to_string();
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_traced-collector"))
            .args(args)
            .args(["--query", &query])
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, text, err) = cli(&["latency", "--service", "gallery-store"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].starts_with("gallery-store make_thumbnail"),
        "{text}"
    );
    assert!(lines[2].contains("   10.0%    50.00ms"), "{text}");

    let (code, text, err) = cli(&[
        "why",
        "--service",
        "gallery-api",
        "--operation",
        "GET /thumbnail",
        "--lookback",
        "1h",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        text.lines().nth(1),
        Some(
            "  make_thumbnail (gallery-store): 640.00ms of the 640.00ms between typical and slow, \
             in 100% of slow traces and 0% of typical ones"
        ),
        "{text}"
    );
    let (code, _, err) = cli(&["why", "--service", "gallery-api", "--operation", "POST"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no gallery-api POST requests in the window"),
        "{err}"
    );
    let (code, _, err) = cli(&["why", "--service", "gallery-api"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("why needs --service and --operation"), "{err}");

    let (code, text, err) = cli(&["show", &TraceId::new(0x16, 0).to_string(), "--width", "120"]);
    assert_eq!(code, Some(0), "{err}");
    let marked = text
        .lines()
        .find(|l| l.contains("◀ slowest"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        marked.contains("gallery-store make_thumbnail")
            && marked.ends_with("◀ slowest (640.00ms on the critical path)"),
        "{text}"
    );
    let read = text.lines().find(|l| l.contains("read_blob")).unwrap();
    assert!(read.contains("cp 50.00ms"), "{text}");
}
