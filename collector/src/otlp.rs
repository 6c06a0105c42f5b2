//! OTLP/HTTP ingest: `POST /v1/traces` with an `ExportTraceServiceRequest` in protobuf
//! (`application/x-protobuf`) or JSON (`application/json`, the OTLP JSON mapping), mapped to
//! the Jaeger model the query API and page serve, as Jaeger v2 maps OTLP (the OpenTelemetry
//! specification's Jaeger translation, the other way):
//!
//! - the resource's `service.name` is the process's service name, its other attributes the
//!   process tags; the instrumentation scope is `otel.scope.name` and `otel.scope.version`;
//! - the kind is the `span.kind` tag; an `ERROR` status is `error = true` with
//!   `otel.status_code` and `otel.status_description`; `trace_state` is `w3c.tracestate`;
//! - the parent is a ChildOf reference, each link a FollowsFrom one;
//! - events are logs, their name the `event` field;
//! - arrays and maps are tags holding their JSON text, bytes are binary tags.
//!
//! Input is untrusted, with the Jaeger ports' rules: the size is checked before the body is
//! read, the protobuf decoder checks every length against the bytes left and bounds nesting,
//! and a rejected request is counted in `/api/stats`. A gzipped body (`Content-Encoding: gzip`)
//! is inflated up to the same bound, its length and CRC checked.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use traced::TraceId;

use crate::ingest::{MAX_BODY, Stats};
use crate::model::{KeyValue, Log, Process, RefKind, Reference, Span, Value};
use crate::store::Store;

/// How deep arrays and maps may nest inside one attribute value.
const MAX_DEPTH: usize = 16;

#[derive(Clone)]
struct Ingest {
    store: Arc<Store>,
    stats: Arc<Stats>,
    body_timeout: Duration,
}

/// The OTLP/HTTP endpoint, `POST /v1/traces`.
pub fn http(store: Arc<Store>, stats: Arc<Stats>, body_timeout: Duration) -> Router {
    Router::new()
        .route("/v1/traces", post(post_traces))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Ingest {
            store,
            stats,
            body_timeout,
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

fn answer(status: StatusCode, encoding: Encoding, body: &str) -> Response {
    // An empty ExportTraceServiceResponse: everything taken. A refusal is words, as text.
    let (content_type, body) = match (status.is_success(), encoding) {
        (true, Encoding::Protobuf) => ("application/x-protobuf", String::new()),
        (true, Encoding::Json) => ("application/json", "{}".to_owned()),
        (false, _) => ("text/plain; charset=utf-8", format!("{body}\n")),
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn post_traces(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let stats = &ingest.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let text = |name| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
            .unwrap_or_default()
    };
    let media_type = text(header::CONTENT_TYPE);
    let encoding = match media_type.split(';').next().unwrap_or_default().trim() {
        "application/x-protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        other => {
            let why = format!(
                "unsupported content type {other:?}: expected application/x-protobuf or application/json"
            );
            stats.reject(format!("OTLP request: {why}"));
            return answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, Encoding::Json, &why);
        }
    };
    let content_encoding = text(header::CONTENT_ENCODING);
    let gzipped = content_encoding.trim() == "gzip";
    if !gzipped && !matches!(content_encoding.trim(), "" | "identity") {
        let why = format!(
            "content encoding {content_encoding:?} is not supported: send gzip or identity"
        );
        stats.reject(format!("OTLP request: {why}"));
        return answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, encoding, &why);
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > MAX_BODY as u64) {
        stats.reject(format!("OTLP request of {n} bytes announced"));
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            encoding,
            &format!("a request is at most {MAX_BODY} bytes"),
        );
    }
    let body = tokio::time::timeout(
        ingest.body_timeout,
        axum::body::to_bytes(request.into_body(), MAX_BODY),
    )
    .await;
    let body: Bytes = match body {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            stats.reject(format!("OTLP request body: {e}"));
            return answer(StatusCode::PAYLOAD_TOO_LARGE, encoding, &e.to_string());
        }
        Err(_) => {
            stats.reject("OTLP request body too slow".into());
            return answer(StatusCode::REQUEST_TIMEOUT, encoding, "body too slow");
        }
    };
    let inflated;
    let plain: &[u8] = if gzipped {
        match gunzip(&body) {
            Ok(bytes) => {
                inflated = bytes;
                &inflated
            }
            Err(e) => {
                stats.reject(format!("OTLP request of {} gzipped bytes: {e}", body.len()));
                return answer(StatusCode::BAD_REQUEST, encoding, &e);
            }
        }
    } else {
        &body
    };
    let decoded = match encoding {
        Encoding::Protobuf => decode_protobuf(plain),
        Encoding::Json => decode_json(plain),
    };
    match decoded {
        Ok(spans) => {
            stats.spans.fetch_add(spans.len() as u64, Ordering::Relaxed);
            ingest.store.add(spans);
            answer(StatusCode::OK, encoding, "")
        }
        Err(e) => {
            stats.reject(format!("OTLP request of {} bytes: {e}", body.len()));
            answer(StatusCode::BAD_REQUEST, encoding, &e)
        }
    }
}

/// CRC-32 (IEEE), bit by bit: it checks an inflated body once.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A gzip member (RFC 1952) inflated, at most [`MAX_BODY`] bytes of it (a small body that
/// inflates to gigabytes is refused, not held), its length and CRC checked.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let cut = || "a gzip body cut short".to_owned();
    if bytes.len() < 18 || bytes[..3] != [0x1F, 0x8B, 8] {
        return Err("not a gzip body".into());
    }
    let flags = bytes[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = usize::from(u16::from_le_bytes([
            *bytes.get(at).ok_or_else(cut)?,
            *bytes.get(at + 1).ok_or_else(cut)?,
        ]));
        at += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = bytes
                .get(at..)
                .ok_or_else(cut)?
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(cut)?;
            at += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    let deflated = bytes.get(at..bytes.len() - 8).ok_or_else(cut)?;
    let inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, MAX_BODY).map_err(
        |e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                format!("a gzip body inflating past {MAX_BODY} bytes")
            }
            status => format!("a gzip body that does not inflate ({status:?})"),
        },
    )?;
    let trailer = &bytes[bytes.len() - 8..];
    let crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
    let size = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
    if size != inflated.len() as u32 || crc != crc32(&inflated) {
        return Err("a gzip body whose length or CRC does not match".into());
    }
    Ok(inflated)
}

/// What one OTLP span carries, before it becomes a Jaeger one.
/// A link's trace and span ids, as decoded.
type RawLink<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// A span as decoded, before it is mapped. Its ids borrow the protobuf body's bytes (the JSON
/// decoder owns the ones it read from hex): three allocations a span fewer on the OTLP port,
/// where the allocator is over half of the workers' time.
#[derive(Default)]
struct RawSpan<'a> {
    trace_id: Cow<'a, [u8]>,
    span_id: Cow<'a, [u8]>,
    parent_span_id: Cow<'a, [u8]>,
    trace_state: String,
    name: String,
    kind: u64,
    start: u64,
    end: u64,
    attributes: Vec<KeyValue>,
    events: Vec<(u64, String, Vec<KeyValue>)>,
    links: Vec<RawLink<'a>>,
    status: Option<(u64, String)>,
}

fn trace_id(bytes: &[u8]) -> Result<TraceId, String> {
    let id: [u8; 16] = bytes
        .try_into()
        .map_err(|_| format!("a trace id of {} bytes (16 expected)", bytes.len()))?;
    let id = TraceId::from_u128(u128::from_be_bytes(id));
    if id.is_valid() {
        Ok(id)
    } else {
        Err("an all-zero trace id".into())
    }
}

fn span_id(bytes: &[u8]) -> Result<u64, String> {
    let id: [u8; 8] = bytes
        .try_into()
        .map_err(|_| format!("a span id of {} bytes (8 expected)", bytes.len()))?;
    match u64::from_be_bytes(id) {
        0 => Err("an all-zero span id".into()),
        id => Ok(id),
    }
}

fn micros(nanos: u64) -> i64 {
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}

fn tag(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value,
    }
}

/// The Jaeger span of an OTLP one.
fn span(raw: RawSpan<'_>, scope: &[KeyValue], process: &Arc<Process>) -> Result<Span, String> {
    let trace_id = trace_id(&raw.trace_id)?;
    let span_id = span_id(&raw.span_id)?;
    let parent = if raw.parent_span_id.is_empty() {
        0
    } else {
        self::span_id(&raw.parent_span_id)?
    };
    let mut references = Vec::new();
    if parent != 0 {
        references.push(Reference {
            kind: RefKind::ChildOf,
            trace_id,
            span_id: parent,
        });
    }
    for (link_trace, link_span) in &raw.links {
        references.push(Reference {
            kind: RefKind::FollowsFrom,
            trace_id: self::trace_id(link_trace)?,
            span_id: self::span_id(link_span)?,
        });
    }
    // Room for what is added below at once: the kind, the status's three, the trace state.
    let mut tags = Vec::with_capacity(raw.attributes.len() + scope.len() + 5);
    tags.extend(raw.attributes);
    tags.extend_from_slice(scope);
    let kind = match raw.kind {
        1 => Some("internal"),
        2 => Some("server"),
        3 => Some("client"),
        4 => Some("producer"),
        5 => Some("consumer"),
        _ => None,
    };
    if let Some(kind) = kind {
        tags.push(tag("span.kind", Value::Str(kind.into())));
    }
    match raw.status {
        Some((2, message)) => {
            tags.push(tag("error", Value::Bool(true)));
            tags.push(tag("otel.status_code", Value::Str("ERROR".into())));
            if !message.is_empty() {
                tags.push(tag("otel.status_description", Value::Str(message)));
            }
        }
        Some((1, _)) => tags.push(tag("otel.status_code", Value::Str("OK".into()))),
        _ => {}
    }
    if !raw.trace_state.is_empty() {
        tags.push(tag("w3c.tracestate", Value::Str(raw.trace_state)));
    }
    let logs = raw
        .events
        .into_iter()
        .map(|(time, name, attributes)| {
            let mut fields = vec![tag("event", Value::Str(name))];
            fields.extend(attributes);
            Log {
                timestamp: micros(time),
                fields,
            }
        })
        .collect();
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id: parent,
        operation_name: raw.name,
        references,
        flags: 1,
        start_time: micros(raw.start),
        duration: micros(raw.end.saturating_sub(raw.start)),
        tags,
        logs,
        process: Arc::clone(process),
    })
}

/// The process of a resource's attributes.
fn process(mut attributes: Vec<KeyValue>) -> Arc<Process> {
    let service_name = match attributes.iter().position(|a| a.key == "service.name") {
        Some(i) => attributes.remove(i).value.to_text(),
        None => "unknown_service".to_owned(),
    };
    Arc::new(Process {
        service_name,
        tags: attributes,
    })
}

fn scope_tags(name: String, version: String) -> Vec<KeyValue> {
    let mut tags = Vec::new();
    if !name.is_empty() {
        tags.push(tag("otel.scope.name", Value::Str(name)));
    }
    if !version.is_empty() {
        tags.push(tag("otel.scope.version", Value::Str(version)));
    }
    tags
}

// ---- protobuf ----

/// A protobuf reader of one message's fields, bounded by the bytes there are.
struct Reader<'a>(&'a [u8]);

enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first().ok_or("a varint cut short")?;
            self.0 = rest;
            n |= u64::from(byte & 0x7F) << shift;
            if byte < 0x80 {
                return Ok(n);
            }
        }
        Err("a varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(format!("a field of {n} bytes with {} left", self.0.len()));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    /// The next field and its number, `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, String> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| "a length past memory")?;
                Field::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed32
            }
            wire => return Err(format!("wire type {wire} (field {})", key >> 3)),
        };
        Ok(Some((key >> 3, field)))
    }
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a string that is not UTF-8".into())
}

/// `AnyValue`, as a tag value.
fn any_value(bytes: &[u8], depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH}"));
    }
    let mut value = Value::Str(String::new());
    let mut r = Reader(bytes);
    while let Some((field, f)) = r.next()? {
        value = match (field, f) {
            (1, Field::Bytes(s)) => Value::Str(utf8(s)?),
            (2, Field::Varint(b)) => Value::Bool(b != 0),
            (3, Field::Varint(i)) => Value::I64(i as i64),
            (4, Field::Fixed64(d)) => Value::F64(f64::from_bits(d)),
            (5 | 6, Field::Bytes(nested)) => {
                Value::Str(nested_json(field, nested, depth)?.to_string())
            }
            (7, Field::Bytes(b)) => Value::Binary(b.to_vec()),
            _ => continue,
        };
    }
    Ok(value)
}

/// `ArrayValue { repeated AnyValue values = 1 }` or `KeyValueList { repeated KeyValue values
/// = 1 }`, as JSON.
fn nested_json(field: u64, bytes: &[u8], depth: usize) -> Result<serde_json::Value, String> {
    let mut r = Reader(bytes);
    let mut items = Vec::new();
    let mut map = serde_json::Map::new();
    while let Some((number, f)) = r.next()? {
        let (1, Field::Bytes(item)) = (number, f) else {
            continue;
        };
        if field == 5 {
            items.push(json_of(&any_value_nested(item, depth + 1)?));
        } else {
            let kv = key_value(item, depth + 1)?;
            map.insert(kv.key, json_of(&kv.value));
        }
    }
    Ok(if field == 5 {
        serde_json::Value::Array(items)
    } else {
        serde_json::Value::Object(map)
    })
}

fn any_value_nested(bytes: &[u8], depth: usize) -> Result<Value, String> {
    any_value(bytes, depth)
}

fn json_of(value: &Value) -> serde_json::Value {
    match value {
        Value::Str(s) => serde_json::from_str::<serde_json::Value>(s)
            .ok()
            .filter(|v| v.is_array() || v.is_object())
            .unwrap_or_else(|| serde_json::Value::String(s.clone())),
        Value::Bool(b) => (*b).into(),
        Value::I64(i) => (*i).into(),
        Value::F64(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Binary(_) => value.to_text().into(),
    }
}

/// `KeyValue { string key = 1; AnyValue value = 2 }`.
fn key_value(bytes: &[u8], depth: usize) -> Result<KeyValue, String> {
    let mut kv = tag("", Value::Str(String::new()));
    let mut r = Reader(bytes);
    while let Some((field, f)) = r.next()? {
        match (field, f) {
            (1, Field::Bytes(k)) => kv.key = utf8(k)?,
            (2, Field::Bytes(v)) => kv.value = any_value(v, depth)?,
            _ => {}
        }
    }
    Ok(kv)
}

fn pb_span(bytes: &[u8]) -> Result<RawSpan<'_>, String> {
    let mut raw = RawSpan::default();
    let mut r = Reader(bytes);
    while let Some((field, f)) = r.next()? {
        match (field, f) {
            (1, Field::Bytes(b)) => raw.trace_id = Cow::Borrowed(b),
            (2, Field::Bytes(b)) => raw.span_id = Cow::Borrowed(b),
            (3, Field::Bytes(b)) => raw.trace_state = utf8(b)?,
            (4, Field::Bytes(b)) => raw.parent_span_id = Cow::Borrowed(b),
            (5, Field::Bytes(b)) => raw.name = utf8(b)?,
            (6, Field::Varint(k)) => raw.kind = k,
            (7, Field::Fixed64(t)) => raw.start = t,
            (8, Field::Fixed64(t)) => raw.end = t,
            (9, Field::Bytes(b)) => raw.attributes.push(key_value(b, 0)?),
            (11, Field::Bytes(b)) => {
                let (mut time, mut name, mut attributes) = (0, String::new(), Vec::new());
                let mut e = Reader(b);
                while let Some((field, f)) = e.next()? {
                    match (field, f) {
                        (1, Field::Fixed64(t)) => time = t,
                        (2, Field::Bytes(n)) => name = utf8(n)?,
                        (3, Field::Bytes(a)) => attributes.push(key_value(a, 0)?),
                        _ => {}
                    }
                }
                raw.events.push((time, name, attributes));
            }
            (13, Field::Bytes(b)) => {
                let (mut trace, mut span) = (Cow::default(), Cow::default());
                let mut l = Reader(b);
                while let Some((field, f)) = l.next()? {
                    match (field, f) {
                        (1, Field::Bytes(t)) => trace = Cow::Borrowed(t),
                        (2, Field::Bytes(s)) => span = Cow::Borrowed(s),
                        _ => {}
                    }
                }
                raw.links.push((trace, span));
            }
            (15, Field::Bytes(b)) => {
                let (mut code, mut message) = (0, String::new());
                let mut s = Reader(b);
                while let Some((field, f)) = s.next()? {
                    match (field, f) {
                        (2, Field::Bytes(m)) => message = utf8(m)?,
                        (3, Field::Varint(c)) => code = c,
                        _ => {}
                    }
                }
                raw.status = Some((code, message));
            }
            _ => {}
        }
    }
    Ok(raw)
}

/// The spans of a protobuf `ExportTraceServiceRequest`.
pub fn decode_protobuf(bytes: &[u8]) -> Result<Vec<Span>, String> {
    let mut spans = Vec::new();
    let mut request = Reader(bytes);
    while let Some((field, f)) = request.next()? {
        let (1, Field::Bytes(resource_spans)) = (field, f) else {
            continue;
        };
        // The resource may come after the spans: gather both, then map.
        let mut resource = Vec::new();
        let mut scopes: Vec<(Vec<KeyValue>, Vec<RawSpan<'_>>)> = Vec::new();
        let mut rs = Reader(resource_spans);
        while let Some((field, f)) = rs.next()? {
            match (field, f) {
                (1, Field::Bytes(b)) => {
                    let mut r = Reader(b);
                    while let Some((field, f)) = r.next()? {
                        if let (1, Field::Bytes(a)) = (field, f) {
                            resource.push(key_value(a, 0)?);
                        }
                    }
                }
                (2, Field::Bytes(b)) => {
                    let (mut name, mut version, mut raw) =
                        (String::new(), String::new(), Vec::new());
                    let mut ss = Reader(b);
                    while let Some((field, f)) = ss.next()? {
                        match (field, f) {
                            (1, Field::Bytes(scope)) => {
                                let mut s = Reader(scope);
                                while let Some((field, f)) = s.next()? {
                                    match (field, f) {
                                        (1, Field::Bytes(n)) => name = utf8(n)?,
                                        (2, Field::Bytes(v)) => version = utf8(v)?,
                                        _ => {}
                                    }
                                }
                            }
                            (2, Field::Bytes(span)) => raw.push(pb_span(span)?),
                            _ => {}
                        }
                    }
                    scopes.push((scope_tags(name, version), raw));
                }
                _ => {}
            }
        }
        let process = process(resource);
        spans.reserve(scopes.iter().map(|(_, raw)| raw.len()).sum());
        for (scope, raw) in scopes {
            for raw in raw {
                spans.push(span(raw, &scope, &process)?);
            }
        }
    }
    Ok(spans)
}

// ---- JSON ----

use serde_json::Value as Json;

fn hex_id(value: &Json, what: &str) -> Result<Vec<u8>, String> {
    let Some(text) = value.as_str() else {
        return Ok(Vec::new());
    };
    if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what} {text:?} is not hex"));
    }
    Ok((0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect())
}

/// A 64-bit integer, as JSON writes it: a string or a number.
fn int(value: &Json) -> Option<i64> {
    match value {
        Json::String(s) => s.parse().ok(),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn uint(value: &Json) -> u64 {
    match value {
        Json::String(s) => s.parse().unwrap_or(0),
        Json::Number(n) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn json_any(value: &Json, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH}"));
    }
    let Some(object) = value.as_object() else {
        return Ok(Value::Str(String::new()));
    };
    let (key, inner) = match object.iter().next() {
        Some(entry) => entry,
        None => return Ok(Value::Str(String::new())),
    };
    Ok(match key.as_str() {
        "stringValue" => Value::Str(inner.as_str().unwrap_or_default().to_owned()),
        "boolValue" => Value::Bool(inner.as_bool().unwrap_or(false)),
        "intValue" => Value::I64(int(inner).ok_or_else(|| format!("intValue {inner}"))?),
        "doubleValue" => Value::F64(match inner {
            Json::String(s) => s.parse().unwrap_or(f64::NAN),
            other => other.as_f64().unwrap_or(f64::NAN),
        }),
        "bytesValue" => Value::Binary(Vec::new()),
        "arrayValue" => {
            let mut items = Vec::new();
            for item in inner["values"].as_array().into_iter().flatten() {
                items.push(json_of(&json_any(item, depth + 1)?));
            }
            Value::Str(Json::Array(items).to_string())
        }
        "kvlistValue" => {
            let mut map = serde_json::Map::new();
            for kv in inner["values"].as_array().into_iter().flatten() {
                let kv = json_key_value(kv, depth + 1)?;
                map.insert(kv.key, json_of(&kv.value));
            }
            Value::Str(Json::Object(map).to_string())
        }
        _ => Value::Str(String::new()),
    })
}

fn json_key_value(value: &Json, depth: usize) -> Result<KeyValue, String> {
    Ok(tag(
        value["key"].as_str().unwrap_or_default(),
        json_any(&value["value"], depth)?,
    ))
}

fn json_attributes(value: &Json) -> Result<Vec<KeyValue>, String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|kv| json_key_value(kv, 0))
        .collect()
}

fn json_enum(value: &Json, names: &[&str]) -> u64 {
    match value {
        Json::String(s) => names.iter().position(|n| n == s).map_or(0, |i| i as u64),
        other => uint(other),
    }
}

const KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

fn json_span(value: &Json) -> Result<RawSpan<'static>, String> {
    let str_of = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let mut raw = RawSpan {
        trace_id: hex_id(&value["traceId"], "traceId")?.into(),
        span_id: hex_id(&value["spanId"], "spanId")?.into(),
        parent_span_id: hex_id(&value["parentSpanId"], "parentSpanId")?.into(),
        trace_state: str_of("traceState"),
        name: str_of("name"),
        kind: json_enum(&value["kind"], &KINDS),
        start: uint(&value["startTimeUnixNano"]),
        end: uint(&value["endTimeUnixNano"]),
        attributes: json_attributes(&value["attributes"])?,
        ..RawSpan::default()
    };
    for event in value["events"].as_array().into_iter().flatten() {
        raw.events.push((
            uint(&event["timeUnixNano"]),
            event["name"].as_str().unwrap_or_default().to_owned(),
            json_attributes(&event["attributes"])?,
        ));
    }
    for link in value["links"].as_array().into_iter().flatten() {
        raw.links.push((
            hex_id(&link["traceId"], "traceId")?.into(),
            hex_id(&link["spanId"], "spanId")?.into(),
        ));
    }
    if let Some(status) = value.get("status").filter(|s| s.is_object()) {
        raw.status = Some((
            json_enum(&status["code"], &STATUS_CODES),
            status["message"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok(raw)
}

/// The spans of a JSON `ExportTraceServiceRequest` (the OTLP JSON mapping: hex ids,
/// lowerCamelCase; enums as integers, or as their names).
pub fn decode_json(bytes: &[u8]) -> Result<Vec<Span>, String> {
    let request: Json = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if !request.is_object() {
        return Err("not an ExportTraceServiceRequest object".into());
    }
    let mut spans = Vec::new();
    for resource_spans in request["resourceSpans"].as_array().into_iter().flatten() {
        let process = process(json_attributes(&resource_spans["resource"]["attributes"])?);
        for scope_spans in resource_spans["scopeSpans"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let scope = &scope_spans["scope"];
            let str_of = |key: &str| scope[key].as_str().unwrap_or_default().to_owned();
            let scope = scope_tags(str_of("name"), str_of("version"));
            for value in scope_spans["spans"].as_array().into_iter().flatten() {
                spans.push(span(json_span(value)?, &scope, &process)?);
            }
        }
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An export written by OpenTelemetry's Python classes (`opentelemetry-proto` 1.45.2,
    /// `ExportTraceServiceRequest.SerializeToString()`): a resource `py-svc` on host `box`,
    /// scope `py.lib` 1.0, a failed server span with a trace state, four attribute types, an
    /// event and a link, and its client child.
    const PYTHON_EXPORT: &str = "0afd020a2e0a180a0c736572766963652e6e616d6512080a0670792d7376630a120a09686f73742e6e616d6512050a03626f7812ca020a0d0a0670792e6c69621203312e3012f8010a100af7651916cd43dd8448eb211c80319c1208b7ad6b71692033311a0876656e646f723d78220800f067aa0ba902b72a0b474554202f696d6167657330023915cd853dfe9c9717419551a43dfe9c97174a170a10687474702e7374617475735f636f6465120318f4034a120a05726174696f120921000000000000e03f4a080a026f6b120210004a130a046c697374120b2a090a030a01610a0218025a310900178e3dfe9c97171209657863657074696f6e1a1b0a11657863657074696f6e2e6d65737361676512060a04626f6f6d6a1c0a1011111111111111112222222222222222120833333333333333337a081204626f6f6d1802123e0a100af7651916cd43dd8448eb211c80319c120800000000000000422208b7ad6b71692033312a02646230033900178e3dfe9c97174120b8953dfe9c9717";

    /// `PYTHON_EXPORT` as Python's `gzip.GzipFile(filename="export.pb", mtime=0)` writes it.
    const PYTHON_GZIP: &str = "1f8b08080000000002ff6578706f72742e706200e3facbc4a5c725c1c5539c5a5496999caa9797989b2ac4c1c55650a95b5c96cc25c4c599915f5c021166e5624ecaaf103ac5c4c50b52a097939924c46ca86720f483914b80eb7baaa4d859e7bb2d1eaf15651a0ce708716c5f9b5d98a9606c28c551969a97925f645ba1c4c1f0217d15f74aa6ed5adceeae210afa99b989e9a9c5064c96a2675b6dffcd992eee3835700998e125ce2590515252a0575c9258525a1c9f9c9f922ac42cf185d94b888bb528b124335f885391010c1ed87b717031e5670b310930780973b1e464169708716b717231733126723149304519723288f7818d15e24cad484e2d006acf9392e6128473f472538b8b816e1162e36249cacfcfcd92e112108402252810e23086822a0e21b02a0926213b6c3e87b88bc149091e065a4c294906cc963067382aec980a6600002da3010b80010000";

    /// The same export in the OTLP JSON mapping.
    const JSON_EXPORT: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"py-svc"}},
        {"key":"host.name","value":{"stringValue":"box"}}]},
      "scopeSpans":[{"scope":{"name":"py.lib","version":"1.0"},"spans":[
        {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
         "traceState":"vendor=x","parentSpanId":"00f067aa0ba902b7","name":"GET /images","kind":2,
         "startTimeUnixNano":"1700000000123456789","endTimeUnixNano":"1700000000125456789",
         "attributes":[{"key":"http.status_code","value":{"intValue":"500"}},
           {"key":"ratio","value":{"doubleValue":0.5}},{"key":"ok","value":{"boolValue":false}},
           {"key":"list","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"2"}]}}}],
         "events":[{"timeUnixNano":"1700000000124000000","name":"exception",
           "attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}]}],
         "links":[{"traceId":"11111111111111112222222222222222","spanId":"3333333333333333"}],
         "status":{"message":"boom","code":2}},
        {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000042",
         "parentSpanId":"b7ad6b7169203331","name":"db","kind":"SPAN_KIND_CLIENT",
         "startTimeUnixNano":"1700000000124000000","endTimeUnixNano":"1700000000124500000"}]}]}]}"#;

    /// `PYTHON_EXPORT` gzipped by Python's `gzip.compress` (with a file name, to exercise the
    /// header's optional fields).
    fn python_gzip() -> Vec<u8> {
        hex(PYTHON_GZIP)
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn gzip_bodies_inflate_and_bad_ones_are_refused() {
        assert_eq!(gunzip(&python_gzip()).unwrap(), python_bytes());
        let mut flipped = python_gzip();
        let last = flipped.len() - 5;
        flipped[last] ^= 1;
        assert_eq!(
            gunzip(&flipped).unwrap_err(),
            "a gzip body whose length or CRC does not match"
        );
        assert_eq!(gunzip(b"{}").unwrap_err(), "not a gzip body");
        let gz = python_gzip();
        assert!(gunzip(&gz[..gz.len() / 2]).is_err());
        // A megabyte past the bound in zeros, gzipped to a few kilobytes: refused at the bound,
        // not inflated whole.
        let zeros = vec![0u8; MAX_BODY + (1 << 20)];
        let mut bomb = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255];
        bomb.extend(miniz_oxide::deflate::compress_to_vec(&zeros, 1));
        bomb.extend(crc32(&zeros).to_le_bytes());
        bomb.extend((zeros.len() as u32).to_le_bytes());
        assert!(bomb.len() < 100_000);
        assert_eq!(
            gunzip(&bomb).unwrap_err(),
            format!("a gzip body inflating past {MAX_BODY} bytes")
        );
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    fn python_bytes() -> Vec<u8> {
        (0..PYTHON_EXPORT.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&PYTHON_EXPORT[i..i + 2], 16).unwrap())
            .collect()
    }

    fn value(span: &Span, key: &str) -> Option<Value> {
        span.tags
            .iter()
            .rev()
            .find(|t| t.key == key)
            .map(|t| t.value.clone())
    }

    fn check(spans: &[Span]) {
        assert_eq!(spans.len(), 2);
        let (server, client) = (&spans[0], &spans[1]);
        assert_eq!(server.process.service_name, "py-svc");
        assert_eq!(
            server.process.tags,
            vec![tag("host.name", Value::Str("box".into()))]
        );
        assert_eq!(
            server.trace_id,
            TraceId::new(0x0af7_6519_16cd_43dd, 0x8448_eb21_1c80_319c)
        );
        assert_eq!(server.span_id, 0xb7ad_6b71_6920_3331);
        assert_eq!(server.parent_span_id, 0x00f0_67aa_0ba9_02b7);
        assert_eq!(server.operation_name, "GET /images");
        assert_eq!(server.start_time, 1_700_000_000_123_456);
        assert_eq!(server.duration, 2_000);
        assert_eq!(server.span_kind(), "server");
        assert!(server.is_error());
        assert_eq!(
            value(server, "otel.status_description"),
            Some(Value::Str("boom".into()))
        );
        assert_eq!(value(server, "http.status_code"), Some(Value::I64(500)));
        assert_eq!(value(server, "ratio"), Some(Value::F64(0.5)));
        assert_eq!(value(server, "ok"), Some(Value::Bool(false)));
        assert_eq!(value(server, "list"), Some(Value::Str(r#"["a",2]"#.into())));
        assert_eq!(
            value(server, "w3c.tracestate"),
            Some(Value::Str("vendor=x".into()))
        );
        assert_eq!(
            value(server, "otel.scope.name"),
            Some(Value::Str("py.lib".into()))
        );
        assert_eq!(
            value(server, "otel.scope.version"),
            Some(Value::Str("1.0".into()))
        );
        assert_eq!(
            server.logs,
            vec![Log {
                timestamp: 1_700_000_000_124_000,
                fields: vec![
                    tag("event", Value::Str("exception".into())),
                    tag("exception.message", Value::Str("boom".into())),
                ],
            }]
        );
        assert_eq!(
            server.references,
            vec![
                Reference {
                    kind: RefKind::ChildOf,
                    trace_id: server.trace_id,
                    span_id: 0x00f0_67aa_0ba9_02b7
                },
                Reference {
                    kind: RefKind::FollowsFrom,
                    trace_id: TraceId::new(0x1111_1111_1111_1111, 0x2222_2222_2222_2222),
                    span_id: 0x3333_3333_3333_3333
                },
            ]
        );
        assert_eq!(client.parent(), Some(server.span_id));
        assert_eq!(client.span_kind(), "client");
        assert!(!client.is_error());
        assert_eq!(client.duration, 500);
        assert!(Arc::ptr_eq(&server.process, &client.process));
    }

    #[test]
    fn a_python_protobuf_export_maps_to_the_jaeger_model() {
        check(&decode_protobuf(&python_bytes()).unwrap());
    }

    #[test]
    fn the_same_export_in_json_maps_the_same() {
        check(&decode_json(JSON_EXPORT.as_bytes()).unwrap());
    }

    #[test]
    fn bad_ids_and_cut_bodies_are_refused_with_a_reason() {
        let bytes = python_bytes();
        for cut in [1, 10, 100, bytes.len() - 1] {
            assert!(decode_protobuf(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let json = JSON_EXPORT.replace(
            "b7ad6b7169203331\",\n         \"traceState",
            "b7ad\",\"traceState",
        );
        assert_eq!(
            decode_json(json.as_bytes()).unwrap_err(),
            "a span id of 2 bytes (8 expected)"
        );
        assert!(decode_json(b"[1]").is_err());
        assert!(
            decode_json(
                b"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}"
            )
            .unwrap_err()
            .contains("not hex")
        );
        // Nesting past the bound: refused, not a stack overflow.
        let mut deep = "{\"stringValue\":\"x\"}".to_owned();
        for _ in 0..30 {
            deep = format!("{{\"arrayValue\":{{\"values\":[{deep}]}}}}");
        }
        let json = format!(
            "{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"k\",\"value\":{deep}}}]}}}}]}}"
        );
        assert!(
            decode_json(json.as_bytes())
                .unwrap_err()
                .contains("nested deeper")
        );
    }

    /// POSTs `body` to a served [`http`] router over loopback: the status line and the body.
    fn post(router: Router, headers: &str, body: &[u8]) -> (String, String) {
        use std::io::{Read, Write};

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let server = runtime.spawn(async move { axum::serve(listener, router).await });
        let request = format!(
            "POST /v1/traces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        );
        let body = body.to_vec();
        let answer = runtime.block_on(async move {
            tokio::task::spawn_blocking(move || {
                let mut stream = std::net::TcpStream::connect(address).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                stream.write_all(request.as_bytes()).unwrap();
                stream.write_all(&body).unwrap();
                let mut answer = String::new();
                stream.read_to_string(&mut answer).unwrap();
                answer
            })
            .await
            .unwrap()
        });
        server.abort();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    }

    #[test]
    fn exports_posted_to_v1_traces_are_stored_and_refusals_counted() {
        let store = Arc::new(Store::new(crate::store::Limits::default()));
        let stats = Arc::new(Stats::default());
        let router = || http(store.clone(), stats.clone(), Duration::from_secs(5));
        let (status, body) = post(
            router(),
            "Content-Type: application/x-protobuf\r\n",
            &python_bytes(),
        );
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, "", "an empty ExportTraceServiceResponse");
        let trace = store
            .trace(TraceId::new(0x0af7_6519_16cd_43dd, 0x8448_eb21_1c80_319c))
            .expect("stored");
        assert_eq!(trace.len(), 2);
        assert_eq!(store.services(), ["py-svc"]);

        let (status, body) = post(
            router(),
            "Content-Type: application/json\r\n",
            JSON_EXPORT.as_bytes(),
        );
        assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "{}"));
        assert_eq!(stats.spans.load(Ordering::Relaxed), 4);

        let (status, _) = post(router(), "Content-Type: text/plain\r\n", b"hi");
        assert_eq!(status, "HTTP/1.1 415 Unsupported Media Type");
        let (status, body) = post(
            router(),
            "Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\n",
            &python_gzip(),
        );
        assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", ""));
        assert_eq!(stats.spans.load(Ordering::Relaxed), 6);
        let (status, _) = post(
            router(),
            "Content-Type: application/x-protobuf\r\nContent-Encoding: br\r\n",
            b"x",
        );
        assert_eq!(status, "HTTP/1.1 415 Unsupported Media Type");
        let (status, body) = post(
            router(),
            "Content-Type: application/x-protobuf\r\n",
            &python_bytes()[..100],
        );
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        assert!(body.starts_with("a field of"), "{body}");
        assert_eq!(stats.rejected.load(Ordering::Relaxed), 3);
        assert_eq!(stats.requests.load(Ordering::Relaxed), 6);
        let last = stats.last_rejection.lock().unwrap().clone().unwrap();
        assert!(last.starts_with("OTLP request of 100 bytes"), "{last}");
    }

    /// A Python service traced by OpenTelemetry's SDK: a server span and its failed child with
    /// an event, exported by the SDK's OTLP/HTTP exporter to `argv[1]` (gzipped when `argv[2]`
    /// says `gzip`); prints the trace id and both span ids.
    const SDK_SCRIPT: &str = r#"
import sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

compression = Compression.Gzip if sys.argv[2] == "gzip" else Compression.NoCompression
provider = TracerProvider(resource=Resource.create({"service.name": "py-sdk"}))
provider.add_span_processor(
    SimpleSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1], compression=compression)))
tracer = provider.get_tracer("interop", "2.0")
with tracer.start_as_current_span(
        "GET /images", kind=trace.SpanKind.SERVER, attributes={"http.status_code": 500}) as parent:
    with tracer.start_as_current_span("load") as child:
        child.add_event("cache miss", {"key": "images/7"})
        child.set_status(trace.Status(trace.StatusCode.ERROR, "boom"))
print(format(parent.get_span_context().trace_id, "032x"),
      format(parent.get_span_context().span_id, "016x"),
      format(child.get_span_context().span_id, "016x"))
provider.shutdown()
"#;

    /// The venv's python with OpenTelemetry's SDK and its OTLP/HTTP exporter, pinned in
    /// `tests/otlp-sdk-requirements.txt` (traced-test-support's venv under the target directory).
    fn sdk_python() -> std::path::PathBuf {
        let requirements = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/otlp-sdk-requirements.txt");
        traced_test_support::venv("otlp-sdk-venv", &requirements).join("python")
    }

    #[test]
    fn opentelemetrys_python_sdk_exports_here_plain_and_gzipped() {
        let python = sdk_python();
        let store = Arc::new(Store::new(crate::store::Limits::default()));
        let stats = Arc::new(Stats::default());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let router = http(store.clone(), stats.clone(), Duration::from_secs(5));
        let server = runtime.spawn(async move { axum::serve(listener, router).await });
        for compression in ["none", "gzip"] {
            let output = std::process::Command::new(&python)
                .args(["-c", SDK_SCRIPT, &url, compression])
                .output()
                .expect("runs the Python service");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success() && stderr.is_empty(), "{stderr}");
            let ids = String::from_utf8(output.stdout).unwrap();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            let trace_id: TraceId = ids[0].parse().unwrap();
            let (parent_id, child_id) = (
                u64::from_str_radix(ids[1], 16).unwrap(),
                u64::from_str_radix(ids[2], 16).unwrap(),
            );
            let trace = store.trace(trace_id).expect("the trace is stored");
            assert_eq!(trace.len(), 2, "{compression}: {trace:#?}");
            let parent = trace.iter().find(|s| s.span_id == parent_id).unwrap();
            let child = trace.iter().find(|s| s.span_id == child_id).unwrap();
            assert_eq!(parent.process.service_name, "py-sdk");
            assert_eq!(parent.operation_name, "GET /images");
            assert_eq!(parent.span_kind(), "server");
            assert_eq!(parent.parent(), None);
            assert_eq!(value(parent, "http.status_code"), Some(Value::I64(500)));
            assert_eq!(
                value(parent, "otel.scope.name"),
                Some(Value::Str("interop".into()))
            );
            assert_eq!(child.operation_name, "load");
            assert_eq!(child.parent(), Some(parent_id));
            assert_eq!(child.span_kind(), "internal");
            assert!(child.is_error());
            assert_eq!(
                value(child, "otel.status_description"),
                Some(Value::Str("boom".into()))
            );
            assert_eq!(child.logs.len(), 1);
            assert_eq!(
                child.logs[0].fields,
                vec![
                    tag("event", Value::Str("cache miss".into())),
                    tag("key", Value::Str("images/7".into())),
                ]
            );
            assert!(child.start_time >= parent.start_time);
            assert!(child.start_time + child.duration <= parent.start_time + parent.duration + 1);
        }
        assert_eq!(stats.rejected.load(Ordering::Relaxed), 0);
        server.abort();
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_protobuf(&bytes);
            let _ = decode_json(&bytes);
            let mut gz = vec![0x1F, 0x8B, 8];
            gz.extend(&bytes);
            let _ = gunzip(&gz);
        }

        #[test]
        fn damaged_exports_never_panic(at in 0usize..640, byte in any::<u8>()) {
            let mut bytes = python_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            let _ = decode_protobuf(&bytes);
        }
    }
}
