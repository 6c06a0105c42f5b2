//! The reporter's UDP datagrams, received on a loopback socket standing in for the Jaeger agent
//! and decoded as thrift compact `emitBatch`: service name, ids, parents, names and tags.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::time::Duration;

use thrift_codec::CompactDecode;
use thrift_codec::data::{Data, DataRef, Struct};
use thrift_codec::message::{Message, MessageKind};
use traced::{Config, Sampler, traced};

#[traced(tags(db.type = "mongo", rows = 3))]
fn get_all_images() -> usize {
    2
}

#[traced(tags(ratio = 0.25, cached = false))]
fn get_image(id: u32) -> Result<u32, String> {
    if id == 0 {
        Err("no image 0".to_owned())
    } else {
        Ok(id)
    }
}

#[traced(kind = server, name = "HTTP GET /v0/images")]
fn handler() {
    get_all_images();
    let _ = get_image(0);
}

/// A decoded `jaeger.thrift` Tag: key and value.
#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Double(f64),
    Bool(bool),
    Long(i64),
}

#[derive(Debug)]
struct Span {
    trace_id_low: i64,
    trace_id_high: i64,
    span_id: i64,
    parent_span_id: i64,
    operation_name: String,
    flags: i32,
    start_time: i64,
    duration: i64,
    tags: HashMap<String, Value>,
    logs: usize,
}

fn field(s: &Struct, id: i16) -> Option<&Data> {
    s.fields().iter().find(|f| f.id() == id).map(|f| f.data())
}

fn string(s: &Struct, id: i16) -> String {
    match field(s, id) {
        Some(Data::Binary(bytes)) => String::from_utf8(bytes.clone()).unwrap(),
        other => panic!("field {id}: expected a string, got {other:?}"),
    }
}

fn i64_field(s: &Struct, id: i16) -> i64 {
    match field(s, id) {
        Some(Data::I64(v)) => *v,
        other => panic!("field {id}: expected an i64, got {other:?}"),
    }
}

fn structs(s: &Struct, id: i16) -> Vec<Struct> {
    match field(s, id) {
        Some(Data::List(list)) => list
            .iter()
            .map(|e| match e {
                DataRef::Struct(s) => s.clone(),
                other => panic!("field {id}: expected structs, got {other:?}"),
            })
            .collect(),
        None => Vec::new(),
        other => panic!("field {id}: expected a list, got {other:?}"),
    }
}

fn tags(s: &Struct, id: i16) -> HashMap<String, Value> {
    structs(s, id)
        .iter()
        .map(|tag| {
            let value = match field(tag, 2) {
                Some(Data::I32(0)) => Value::Str(string(tag, 3)),
                Some(Data::I32(1)) => match field(tag, 4) {
                    Some(Data::Double(d)) => Value::Double(*d),
                    other => panic!("vDouble: {other:?}"),
                },
                Some(Data::I32(2)) => match field(tag, 5) {
                    Some(Data::Bool(b)) => Value::Bool(*b),
                    other => panic!("vBool: {other:?}"),
                },
                Some(Data::I32(3)) => Value::Long(i64_field(tag, 6)),
                other => panic!("vType: {other:?}"),
            };
            (string(tag, 1), value)
        })
        .collect()
}

fn decode_span(s: &Struct) -> Span {
    Span {
        trace_id_low: i64_field(s, 1),
        trace_id_high: i64_field(s, 2),
        span_id: i64_field(s, 3),
        parent_span_id: i64_field(s, 4),
        operation_name: string(s, 5),
        flags: match field(s, 7) {
            Some(Data::I32(v)) => *v,
            other => panic!("flags: {other:?}"),
        },
        start_time: i64_field(s, 8),
        duration: i64_field(s, 9),
        tags: tags(s, 10),
        logs: structs(s, 11).len(),
    }
}

#[test]
fn the_agent_receives_compact_emit_batch_datagrams_with_the_whole_trace() {
    let _exclusive = traced::testing::exclusive();
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
    agent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let address = agent.local_addr().unwrap();

    let guard = traced::init(
        Config::new("udp-test-service")
            .agent(address.to_string())
            .sampler(Sampler::always())
            .tag("team", "gallery"),
    )
    .unwrap();
    handler();
    drop(guard); // flushes

    let mut spans = Vec::new();
    let mut services = Vec::new();
    let mut process_tags = HashMap::new();
    let mut buffer = vec![0; 65_535];
    while spans.len() < 3 {
        let (len, _) = agent
            .recv_from(&mut buffer)
            .expect("a datagram from the reporter within 10 s");
        let message =
            Message::compact_decode(&mut &buffer[..len]).expect("a thrift compact message");
        assert_eq!(message.method_name(), "emitBatch");
        assert_eq!(message.kind(), MessageKind::Oneway);
        let batch = match field(message.body(), 1) {
            Some(Data::Struct(batch)) => batch.clone(),
            other => panic!("emitBatch's argument is a Batch: {other:?}"),
        };
        let process = match field(&batch, 1) {
            Some(Data::Struct(process)) => process.clone(),
            other => panic!("a Batch has a Process: {other:?}"),
        };
        services.push(string(&process, 1));
        process_tags.extend(tags(&process, 2));
        spans.extend(structs(&batch, 2).iter().map(decode_span));
    }

    assert!(
        services.iter().all(|s| s == "udp-test-service"),
        "{services:?}"
    );
    assert_eq!(
        process_tags.get("team"),
        Some(&Value::Str("gallery".to_owned()))
    );
    assert!(process_tags.contains_key("hostname"), "{process_tags:?}");
    assert!(
        matches!(process_tags.get("jaeger.version"), Some(Value::Str(v)) if v.starts_with("Rust-traced")),
        "{process_tags:?}"
    );

    let by_name: HashMap<&str, &Span> = spans
        .iter()
        .map(|s| (s.operation_name.as_str(), s))
        .collect();
    assert_eq!(spans.len(), 3, "{spans:?}");
    let (root, list, get) = (
        by_name["HTTP GET /v0/images"],
        by_name["get_all_images"],
        by_name["get_image"],
    );
    assert_eq!(root.parent_span_id, 0);
    assert_eq!(list.parent_span_id, root.span_id);
    assert_eq!(get.parent_span_id, root.span_id);
    for span in &spans {
        assert_eq!(
            (span.trace_id_low, span.trace_id_high),
            (root.trace_id_low, root.trace_id_high)
        );
        assert_ne!(span.span_id, 0);
        assert_eq!(span.flags & 1, 1, "sampled");
        assert!(
            span.duration >= 0 && span.start_time > 1_600_000_000_000_000,
            "{span:?}"
        );
    }
    assert_eq!(
        root.tags.get("span.kind"),
        Some(&Value::Str("server".to_owned()))
    );
    assert_eq!(
        root.tags.get("sampler.type"),
        Some(&Value::Str("const".to_owned()))
    );
    assert_eq!(
        list.tags.get("db.type"),
        Some(&Value::Str("mongo".to_owned()))
    );
    assert_eq!(list.tags.get("rows"), Some(&Value::Long(3)));
    assert_eq!(get.tags.get("ratio"), Some(&Value::Double(0.25)));
    assert_eq!(get.tags.get("cached"), Some(&Value::Bool(false)));
    assert_eq!(get.tags.get("error"), Some(&Value::Bool(true)));
    assert_eq!(get.logs, 1);
}
