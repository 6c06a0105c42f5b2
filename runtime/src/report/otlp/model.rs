//! A finished span as OTLP sees it, by the OpenTelemetry specification's Jaeger translation:
//! what both encoders (protobuf and JSON) write.
//!
//! - `span.kind` becomes the span's kind (`INTERNAL` without one) and leaves the attributes;
//! - `error = true` becomes an `ERROR` status whose message is the error log's `message`, and
//!   leaves the attributes; the error log (`event = error`) becomes an `exception` event with
//!   `exception.type` and `exception.message`;
//! - other logs become events named by their `event` field, the other fields attributes;
//! - a FollowsFrom parent stays the parent (so backends still draw the tree) and is also a link
//!   tagged `opentracing.ref_type = follows_from`, as the OpenTracing shim writes it;
//! - the W3C `tracestate` the trace arrived with is the span's `trace_state`, unchanged;
//! - the process becomes the resource: `service.name`, `telemetry.sdk.*`, `hostname` as
//!   `host.name`, the other process tags as they are (`jaeger.version` is replaced by the SDK's).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::report::{Batch, Process};
use crate::tag::{TagRef, TagValue};
use crate::{ReferenceKind, SpanRecord};

/// The instrumentation scope of every span.
pub(super) const SCOPE_NAME: &str = "traced";
/// The crate's version, as the scope's and the SDK's version.
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `Span.SpanKind`.
pub(super) mod kind {
    pub(crate) const INTERNAL: i32 = 1;
    pub(crate) const SERVER: i32 = 2;
    pub(crate) const CLIENT: i32 = 3;
    pub(crate) const PRODUCER: i32 = 4;
    pub(crate) const CONSUMER: i32 = 5;
}

/// `Status.StatusCode.STATUS_CODE_ERROR`.
pub(super) const STATUS_ERROR: i32 = 2;

/// Nanoseconds since the Unix epoch (0 before it).
pub(super) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The resource's attributes: the service, the SDK, and the process tags.
pub(super) fn resource(process: &Process) -> Vec<(&str, TagRef<'_>)> {
    let mut attributes = vec![
        ("service.name", TagRef::Str(process.service_name())),
        ("telemetry.sdk.name", TagRef::Str(SCOPE_NAME)),
        ("telemetry.sdk.language", TagRef::Str("rust")),
        ("telemetry.sdk.version", TagRef::Str(VERSION)),
    ];
    for (key, value) in process.tags() {
        let key = match key {
            "jaeger.version" | "service.name" => continue,
            "hostname" => "host.name",
            key => key,
        };
        attributes.push((key, TagRef::from(value)));
    }
    attributes
}

/// One event.
pub(super) struct Event<'a> {
    pub(super) time_unix_nano: u64,
    pub(super) name: &'a str,
    pub(super) attributes: Vec<(&'a str, TagRef<'a>)>,
}

/// One span, mapped.
pub(super) struct Span<'a> {
    pub(super) record: &'a SpanRecord,
    pub(super) kind: i32,
    /// `Some(message)` for an `ERROR` status.
    pub(super) error: Option<&'a str>,
    pub(super) attributes: Vec<(&'a str, TagValue)>,
    pub(super) events: Vec<Event<'a>>,
    /// The parent, when it is also a link (FollowsFrom).
    pub(super) follows_from: bool,
    pub(super) start_unix_nano: u64,
    pub(super) end_unix_nano: u64,
}

impl<'a> Span<'a> {
    pub(super) fn new(record: &'a SpanRecord) -> Self {
        let mut kind = kind::INTERNAL;
        let mut failed = false;
        let mut attributes = Vec::new();
        for (key, value) in record.tags() {
            match (key, &value) {
                ("span.kind", TagValue::String(k)) => {
                    kind = match k.as_ref() {
                        "server" => kind::SERVER,
                        "client" => kind::CLIENT,
                        "producer" => kind::PRODUCER,
                        "consumer" => kind::CONSUMER,
                        _ => kind::INTERNAL,
                    }
                }
                ("error", TagValue::Boolean(b)) => failed = *b,
                ("error", TagValue::String(s)) if s == "true" => failed = true,
                _ => attributes.push((key, value)),
            }
        }
        let mut error = failed.then_some("");
        let events = record
            .logs()
            .iter()
            .map(|log| {
                let time_unix_nano = unix_nanos(log.time());
                if failed && log.field("event") == Some("error") {
                    error = Some(log.field("message").unwrap_or_default());
                    let attributes = log
                        .fields()
                        .filter(|(k, _)| *k != "event")
                        .map(|(k, v)| {
                            let k = match k {
                                "error.kind" => "exception.type",
                                "message" => "exception.message",
                                k => k,
                            };
                            (k, TagRef::Str(v))
                        })
                        .collect();
                    return Event {
                        time_unix_nano,
                        name: "exception",
                        attributes,
                    };
                }
                Event {
                    time_unix_nano,
                    name: log.field("event").unwrap_or_default(),
                    attributes: log
                        .fields()
                        .filter(|(k, _)| *k != "event")
                        .map(|(k, v)| (k, TagRef::Str(v)))
                        .collect(),
                }
            })
            .collect();
        let start_unix_nano = unix_nanos(record.start_time());
        let duration = u64::try_from(record.duration().as_nanos()).unwrap_or(u64::MAX);
        Span {
            record,
            kind,
            error,
            attributes,
            events,
            follows_from: record.reference_kind() == Some(ReferenceKind::FollowsFrom),
            start_unix_nano,
            end_unix_nano: start_unix_nano.saturating_add(duration),
        }
    }

    /// The W3C trace flags: the sampled bit (Jaeger's debug bit has no OTLP place).
    pub(super) fn flags(&self) -> u32 {
        u32::from(self.record.flags() & 1)
    }
}

/// Every span of a batch, mapped.
pub(super) fn spans<'a>(batch: &Batch<'a>) -> impl Iterator<Item = Span<'a>> {
    batch.spans().map(Span::new)
}
