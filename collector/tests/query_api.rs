//! The query API as Jaeger's query service answers it (its `http_handler.go`,
//! `query_parser.go` and UI model are the reference): several traces by id, operations with
//! their span kind, dependencies, envelopes and error answers, spans delivered twice, tag
//! searches over process tags and log fields; and both HTTP ports as Jaeger's collector and
//! query answer a wrong `Content-Type` or a client that half-closes.

mod agent;

use std::net::UdpSocket;

use agent::{batch, datagram, get, http_body, raw, settled_stats, span, start};
use rustracing_jaeger::thrift::jaeger;
use serde_json::{Value, json};
use traced_collector::thrift::Protocol;
use traced_collector::{Collector, Config};

/// Sends datagrams to the compact port and waits until `spans` spans are received.
fn send(collector: &Collector, datagrams: &[Vec<u8>], spans: u64) {
    let sender = UdpSocket::bind("127.0.0.1:0").expect("binds");
    for d in datagrams {
        sender
            .send_to(d, collector.udp_compact_addr())
            .expect("sends");
    }
    settled_stats(collector, |s| s["spans_received"] == spans);
}

fn id(trace: i64) -> String {
    format!("0000000000005eed{trace:016x}")
}

fn trace_ids(answer: &Value) -> Vec<&str> {
    answer["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["traceID"].as_str().expect("an id"))
        .collect()
}

#[test]
fn trace_id_parameters_return_exactly_those_traces_and_name_the_missing_ones() {
    let (_runtime, collector) = start(Config::ephemeral());
    let datagrams: Vec<Vec<u8>> = (1..=3).map(|t| datagram(t, 2, Protocol::Compact)).collect();
    send(&collector, &datagrams, 6);
    let query = collector.query_addr();

    let missing = id(99);
    let (status, answer) = get(
        query,
        &format!(
            "/api/traces?traceID={}&traceID={}&traceID={missing}&service=nobody",
            id(3),
            id(1)
        ),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(trace_ids(&answer), [id(3), id(1)], "those, in that order");
    assert_eq!(
        answer["errors"],
        json!([{"msg": "trace not found", "traceID": missing}])
    );
    assert_eq!((&answer["total"], &answer["limit"]), (&json!(0), &json!(0)));

    let (status, answer) = get(query, "/api/traces?traceID=xyz");
    assert_eq!(status, 400);
    assert_eq!(answer["data"], Value::Null);
    assert_eq!(answer["errors"][0]["code"], 400);
    assert!(
        answer["errors"][0]["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("cannot parse traceID param")),
        "{answer}"
    );
}

#[test]
fn operations_come_with_their_span_kind_and_the_service_is_required() {
    let (_runtime, collector) = start(Config::ephemeral());
    let mut spans = batch(1, 3);
    let kinds = ["server", "client"];
    for (span, kind) in spans.spans.iter_mut().zip(kinds) {
        span.operation_name = "GET /v0/images".into();
        span.tags.push(jaeger::Tag::String {
            key: "span.kind".into(),
            value: kind.into(),
        });
    }
    spans.spans[2].operation_name = "sweep".into();
    let (status, _, _) = post_batch(&collector, &http_body(spans), "application/x-thrift");
    assert_eq!(status, 202);
    settled_stats(&collector, |s| s["spans_received"] == 3);
    let query = collector.query_addr();

    let (status, all) = get(query, "/api/operations?service=udp-test");
    assert_eq!(status, 200);
    assert_eq!(
        all,
        json!({"data": [
            {"name": "GET /v0/images", "spanKind": "client"},
            {"name": "GET /v0/images", "spanKind": "server"},
            {"name": "sweep", "spanKind": ""},
        ], "errors": null, "limit": 0, "offset": 0, "total": 3})
    );
    let (_, servers) = get(query, "/api/operations?service=udp-test&spanKind=server");
    assert_eq!(
        servers["data"],
        json!([{"name": "GET /v0/images", "spanKind": "server"}])
    );
    let (_, legacy) = get(query, "/api/services/udp-test/operations");
    assert_eq!(
        legacy,
        json!({"data": ["GET /v0/images", "sweep"], "errors": null, "limit": 0, "offset": 0, "total": 2})
    );
    let (status, answer) = get(query, "/api/operations?spanKind=server");
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"data": null, "errors": [{"code": 400, "msg": "parameter 'service' is required"}],
               "limit": 0, "offset": 0, "total": 0})
    );
}

#[test]
fn dependencies_link_services_that_call_each_other_within_the_window() {
    let (_runtime, collector) = start(Config::ephemeral());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    let mut api = batch(1, 1);
    api.process.service_name = "api".into();
    api.spans[0].start_time = now_ms * 1_000;
    let mut catalog = batch(1, 0);
    catalog.process.service_name = "catalog".into();
    catalog.spans = (2..=3)
        .map(|id| jaeger::Span {
            start_time: now_ms * 1_000 + id,
            ..span(1, id)
        })
        .collect();
    for b in [api, catalog] {
        let (status, _, _) = post_batch(&collector, &http_body(b), "application/x-thrift");
        assert_eq!(status, 202);
    }
    settled_stats(&collector, |s| s["spans_received"] == 3);
    let query = collector.query_addr();

    let (status, links) = get(
        query,
        &format!("/api/dependencies?endTs={}&lookback=60000", now_ms + 1_000),
    );
    assert_eq!(status, 200);
    // Span 2 is tagged error (the shared span's even ids are): one failed call.
    assert_eq!(
        links,
        json!({"data": [{"parent": "api", "child": "catalog", "callCount": 2, "errorCount": 1}],
               "errors": null, "limit": 0, "offset": 0, "total": 0})
    );
    let (_, earlier) = get(
        query,
        &format!(
            "/api/dependencies?endTs={}&lookback=60000",
            now_ms - 120_000
        ),
    );
    assert_eq!(earlier["data"], json!([]));
    let (_, by_default) = get(query, "/api/dependencies");
    assert_eq!(by_default["data"][0]["callCount"], 2, "now, 24 hours back");
    let (status, bad) = get(query, "/api/dependencies?endTs=yesterday");
    assert_eq!(status, 400);
    assert_eq!(bad["data"], Value::Null);
    assert!(
        bad["errors"][0]["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("unable to parse param 'endTs'")),
        "{bad}"
    );
}

#[test]
fn envelopes_count_as_jaegers_do_and_error_answers_have_null_data() {
    let (_runtime, collector) = start(Config::ephemeral());
    send(&collector, &[datagram(1, 2, Protocol::Compact)], 2);
    let query = collector.query_addr();

    let (_, services) = get(query, "/api/services");
    assert_eq!(
        services,
        json!({"data": ["udp-test"], "errors": null, "limit": 0, "offset": 0, "total": 1})
    );
    let (_, search) = get(query, "/api/traces?service=udp-test");
    assert_eq!(trace_ids(&search), [id(1)]);
    assert_eq!(
        (&search["total"], &search["errors"]),
        (&json!(0), &Value::Null),
        "a search's total is 0 in Jaeger"
    );
    let (_, one) = get(query, &format!("/api/traces/{}", id(1)));
    assert_eq!((&one["total"], &one["errors"]), (&json!(0), &Value::Null));
    let (status, missing) = get(query, &format!("/api/traces/{}", id(2)));
    assert_eq!(status, 404);
    assert_eq!(
        missing,
        json!({"data": null, "errors": [{"code": 404, "msg": "trace not found"}],
               "limit": 0, "offset": 0, "total": 0})
    );
    let (status, bad) = get(query, "/api/traces?service=udp-test&minDuration=soon");
    assert_eq!(status, 400);
    assert_eq!(bad["data"], Value::Null);
    assert_eq!(bad["errors"][0]["code"], 400);
    let (status, _) = get(
        query,
        "/api/traces?service=udp-test&minDuration=2s&maxDuration=1s",
    );
    assert_eq!(status, 400, "maxDuration below minDuration");
}

#[test]
fn a_span_delivered_twice_is_shown_once() {
    let (_runtime, collector) = start(Config::ephemeral());
    let twice = datagram(1, 2, Protocol::Compact);
    send(&collector, &[twice.clone(), twice], 4);
    let (_, trace) = get(collector.query_addr(), &format!("/api/traces/{}", id(1)));
    let spans: Vec<&str> = trace["data"][0]["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| s["spanID"].as_str().expect("an id"))
        .collect();
    assert_eq!(spans, ["0000000000000001", "0000000000000002"]);
}

#[test]
fn a_tag_search_matches_process_tags_and_log_fields_and_binary_values_are_base64() {
    let (_runtime, collector) = start(Config::ephemeral());
    let mut with_binary = batch(2, 1);
    with_binary.process.tags.clear();
    with_binary.spans[0].logs.clear();
    with_binary.spans[0].tags.push(jaeger::Tag::Binary {
        key: "payload".into(),
        value: vec![0xde, 0xad, 0xbe, 0xef],
    });
    let (status, _, _) = post_batch(&collector, &http_body(with_binary), "application/x-thrift");
    assert_eq!(status, 202);
    send(&collector, &[datagram(1, 1, Protocol::Compact)], 2);
    let query = collector.query_addr();
    let search = |tags: &str| {
        let (status, answer) = get(
            query,
            &format!("/api/traces?service=udp-test&tags={}", escape(tags)),
        );
        assert_eq!(status, 200, "{answer}");
        trace_ids(&answer)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(search(r#"{"hostname":"box"}"#), [id(1)], "a process tag");
    assert_eq!(search(r#"{"event":"query done"}"#), [id(1)], "a log field");
    assert_eq!(
        search(r#"{"hostname":"box","event":"query done","rows":"1"}"#),
        [id(1)]
    );
    assert!(search(r#"{"event":"other"}"#).is_empty());
    let (_, by_tag) = get(
        query,
        &format!(
            "/api/traces?service=udp-test&tag={}",
            escape("hostname:box")
        ),
    );
    assert_eq!(trace_ids(&by_tag), [id(1)], "the tag=key:value form");

    let (_, trace) = get(query, &format!("/api/traces/{}", id(2)));
    let payload = trace["data"][0]["spans"][0]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["key"] == "payload")
        .cloned();
    assert_eq!(
        payload,
        Some(json!({"key": "payload", "type": "binary", "value": "3q2+7w=="}))
    );
}

/// Percent-encodes a query parameter's value.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs a batch to the collector's HTTP port with this `Content-Type` (none when empty).
fn post_batch(collector: &Collector, body: &[u8], content_type: &str) -> (u16, String, String) {
    let header = if content_type.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {content_type}\r\n")
    };
    let head = format!(
        "POST /api/traces HTTP/1.1\r\nHost: x\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    raw(
        collector.http_addr(),
        &[head.as_bytes(), body].concat(),
        false,
    )
}

#[test]
fn a_wrong_content_type_is_answered_400_with_jaegers_words() {
    let (_runtime, collector) = start(Config::ephemeral());
    let body = http_body(batch(1, 1));
    let (status, _, text) = post_batch(&collector, &body, "text/plain; charset=utf-8");
    assert_eq!(
        (status, text.as_str()),
        (400, "Unsupported content type: text/plain\n")
    );
    let (status, _, text) = post_batch(&collector, &body, "");
    assert_eq!(
        (status, text.as_str()),
        (400, "Cannot parse content type: mime: no media type\n")
    );
    let (status, _, text) = post_batch(&collector, &body, "application/x-thriftier");
    assert_eq!(status, 400, "a prefix is not the type: {text}");
    let (status, _, text) = post_batch(&collector, &body, "/x-thrift");
    assert_eq!(status, 400);
    assert!(text.starts_with("Cannot parse content type"), "{text}");
    for accepted in [
        "Application/X-Thrift",
        "application/vnd.apache.thrift.binary; charset=binary",
    ] {
        let (status, _, text) = post_batch(&collector, &body, accepted);
        assert_eq!(status, 202, "{accepted}: {text}");
    }
    let stats = settled_stats(&collector, |s| s["spans_received"] == 2);
    assert_eq!(stats["rejected"], 4);
}

#[test]
fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    let (_runtime, collector) = start(Config::ephemeral());
    let (status, _, body) = raw(
        collector.query_addr(),
        b"GET /api/services HTTP/1.1\r\nHost: x\r\n\r\n",
        true,
    );
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON"),
        json!({"data": [], "errors": null, "limit": 0, "offset": 0, "total": 0})
    );
    let body = http_body(batch(1, 1));
    let head = format!(
        "POST /api/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-thrift\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (status, _, _) = raw(
        collector.http_addr(),
        &[head.as_bytes(), &body].concat(),
        true,
    );
    assert_eq!(status, 202);
    settled_stats(&collector, |s| s["spans_received"] == 1);
}
