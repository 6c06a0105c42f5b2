//! The agent ports under pressure: datagrams go through the reader's queue to the decoder
//! intact, a full queue's drops and the receive buffer granted are shown in `/api/stats`, and
//! hostile datagrams are still rejected and counted.

mod agent;

use std::net::UdpSocket;

use agent::{count, datagram, get, settled_stats, start};
use serde_json::Value;
use traced_collector::Config;
use traced_collector::thrift::Protocol;

#[test]
fn datagrams_go_through_the_queue_and_are_decoded_intact_on_both_ports() {
    let (_runtime, collector) = start(Config::ephemeral());
    let sender = UdpSocket::bind("127.0.0.1:0").expect("binds");
    sender
        .send_to(
            &datagram(1, 3, Protocol::Compact),
            collector.udp_compact_addr(),
        )
        .expect("sends");
    sender
        .send_to(
            &datagram(2, 3, Protocol::Binary),
            collector.udp_binary_addr(),
        )
        .expect("sends");
    settled_stats(&collector, |s| count(s, "spans_received") == 6);

    for trace in [1, 2] {
        let (status, body) = get(
            collector.query_addr(),
            &format!("/api/traces/0000000000005eed{trace:016x}"),
        );
        assert_eq!(status, 200, "{body}");
        let trace = &body["data"][0];
        let spans = trace["spans"].as_array().expect("spans");
        assert_eq!(spans.len(), 3);
        let third = spans
            .iter()
            .find(|s| s["spanID"] == "0000000000000003")
            .expect("span 3");
        assert_eq!(third["operationName"], "GET /v0/images/3");
        assert_eq!(third["duration"], 1_003);
        assert_eq!(third["startTime"], 1_700_000_000_000_003_i64);
        assert_eq!(third["references"][0]["spanID"], "0000000000000001");
        let tags: Vec<(&str, &Value)> = third["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| (t["key"].as_str().expect("a key"), &t["value"]))
            .collect();
        assert_eq!(
            tags,
            [
                (
                    "db.statement",
                    &Value::from("SELECT id, name, size, created FROM images WHERE owner = ?")
                ),
                ("error", &Value::from(false)),
                ("rows", &Value::from(3)),
            ]
        );
        assert_eq!(third["logs"][0]["fields"][0]["value"], "query done");
        assert_eq!(trace["processes"]["p1"]["serviceName"], "udp-test");
        assert_eq!(trace["processes"]["p1"]["tags"][0]["value"], "box");
    }
    let stats = get(collector.query_addr(), "/api/stats").1;
    assert_eq!(
        (
            count(&stats, "datagrams"),
            count(&stats, "datagrams_decoded")
        ),
        (2, 2)
    );
    assert_eq!(count(&stats, "udp_queue_drops"), 0);
    assert_eq!(count(&stats, "udp_kernel_drops"), 0);
}

/// A burst of 100 datagrams of 200 spans each to the compact port.
fn burst(collector: &traced_collector::Collector) -> u64 {
    let sender = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let datagrams: Vec<Vec<u8>> = (0..100)
        .map(|t| datagram(1_000 + t, 200, Protocol::Compact))
        .collect();
    for d in &datagrams {
        sender
            .send_to(d, collector.udp_compact_addr())
            .expect("sends");
    }
    datagrams.len() as u64
}

#[test]
fn a_full_queue_holds_the_reader_while_the_kernel_buffers_and_loses_nothing() {
    // One slot, and datagrams that take the decoder far longer than the reader takes to
    // receive: the reader waits for room, the kernel's buffer holds the rest of the burst.
    let (_runtime, collector) = start(Config {
        udp_queue: 1,
        ..Config::ephemeral()
    });
    let sent = burst(&collector);
    let stats = settled_stats(&collector, |s| count(s, "datagrams_decoded") == sent);
    assert_eq!(
        (
            count(&stats, "udp_queue_drops"),
            count(&stats, "udp_kernel_drops")
        ),
        (0, 0)
    );
    assert_eq!(stats["udp"][0]["queue_wait_ms"], 500);
    assert_eq!(count(&stats, "spans_received"), sent * 200);
}

#[test]
fn a_full_queue_drops_datagrams_and_api_stats_counts_every_one() {
    // One slot and no waiting for room: a burst must overflow the queue.
    let (_runtime, collector) = start(Config {
        udp_queue: 1,
        udp_queue_wait: std::time::Duration::ZERO,
        ..Config::ephemeral()
    });
    let sent = burst(&collector);
    let stats = settled_stats(&collector, |s| {
        count(s, "datagrams") + count(s, "udp_kernel_drops") == sent
            && count(s, "datagrams_decoded") + count(s, "udp_queue_drops") == count(s, "datagrams")
    });
    let queue_drops = count(&stats, "udp_queue_drops");
    assert!(queue_drops > 0, "a one-slot queue overflowed: {stats:#}");
    assert_eq!(stats["udp"][0]["queue_drops"], queue_drops);
    assert_eq!(stats["udp"][0]["queue_capacity"], 1);
    // What was not dropped was stored, whole.
    let decoded = count(&stats, "datagrams_decoded");
    assert_eq!(count(&stats, "spans_received"), decoded * 200);
    assert_eq!(
        collector.store().stats().2 as u64,
        decoded,
        "one trace each"
    );
    assert_eq!(count(&stats, "rejected"), 0);
}

#[test]
fn the_receive_buffer_asked_for_and_the_one_granted_are_in_api_stats() {
    let asked = 3 << 20;
    let (_runtime, collector) = start(Config {
        udp_buffer: asked,
        ..Config::ephemeral()
    });
    let stats = get(collector.query_addr(), "/api/stats").1;
    let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(usize::MAX);
    for port in stats["udp"].as_array().expect("the ports") {
        assert_eq!(port["receive_buffer_requested"], asked, "{port}");
        let granted = port["receive_buffer"].as_u64().expect("granted") as usize;
        let forced = port["receive_buffer_forced"].as_bool().expect("forced");
        // Linux grants twice what it is asked (its bookkeeping), within rmem_max unless forced.
        let floor = if forced { asked } else { asked.min(rmem_max) };
        assert!(granted >= floor, "{port}");
        assert_ne!(granted, 212_992, "not the system's default: {port}");
    }
    let ports: Vec<u64> = stats["udp"]
        .as_array()
        .expect("the ports")
        .iter()
        .map(|p| p["port"].as_u64().expect("a port"))
        .collect();
    assert_eq!(
        ports,
        [
            u64::from(collector.udp_compact_addr().port()),
            u64::from(collector.udp_binary_addr().port())
        ]
    );
}

#[test]
fn hostile_datagrams_are_rejected_and_counted_and_good_ones_still_stored() {
    let (_runtime, collector) = start(Config::ephemeral());
    let sender = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let good = datagram(7, 2, Protocol::Compact);
    let hostile: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        Vec::new(),
        // A compact message whose name claims 2 GB.
        vec![0x82, 0x21, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x07],
        // emitBatch nested 60,000 structs deep.
        [
            vec![0x82, 0x21, 0x00, 9],
            b"emitBatch".to_vec(),
            vec![0x1C; 60_000],
        ]
        .concat(),
        // The good datagram cut short, and its binary twin sent to the compact port.
        good[..good.len() / 2].to_vec(),
        datagram(8, 2, Protocol::Binary),
    ];
    for d in &hostile {
        sender
            .send_to(d, collector.udp_compact_addr())
            .expect("sends");
    }
    sender
        .send_to(&good, collector.udp_compact_addr())
        .expect("sends");
    let stats = settled_stats(&collector, |s| {
        count(s, "datagrams_decoded") == hostile.len() as u64 + 1
    });
    assert_eq!(count(&stats, "rejected"), hostile.len() as u64, "{stats:#}");
    assert!(
        stats["last_rejection"]
            .as_str()
            .is_some_and(|r| r.starts_with("UDP Compact datagram of")),
        "{stats:#}"
    );
    assert_eq!(count(&stats, "spans_received"), 2);
    let (status, body) = get(
        collector.query_addr(),
        "/api/traces/0000000000005eed0000000000000007",
    );
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["spans"].as_array().map(Vec::len), Some(2));
}
