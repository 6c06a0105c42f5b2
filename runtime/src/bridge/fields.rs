//! `tracing` field values as traced sees them: a span's fields as typed tags, an event's as a
//! log, and the fields the OpenTelemetry conventions give a meaning (`error`, `otel.name`,
//! `otel.kind`/`span.kind`, `otel.status_code`) as traced's error, name and kind.

use std::borrow::Cow;
use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level};

use crate::local::record::{Log, SpanRecord};
use crate::tag::{IntoTagValue, LogField, TagValue};

/// Records a span's fields, at creation and through `Span::record`, on its record.
pub(crate) struct SpanFields<'a>(pub(crate) &'a mut SpanRecord);

impl SpanFields<'_> {
    /// A field whose value is text (a `&str`, or a `Display`/`Debug` value written out): the
    /// conventional names first.
    ///
    /// Inlined into each visitor: called, it copied the text's `Cow` (just written by the
    /// visitor with narrower stores) with a wider load, a store-forwarding stall (`perf`,
    /// 2026-12-03: three fifths of this function's samples).
    #[inline(always)]
    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        match field.name() {
            "error" => self.0.set_error("error", &text),
            "otel.name" => self.0.more().name = Some(text.into_owned()),
            "otel.kind" | "span.kind" => {
                if let Some(kind) = span_kind(&text) {
                    self.0
                        .set_tag("span.kind", TagValue::String(Cow::Borrowed(kind)));
                }
            }
            "otel.status_code" => {
                if text.eq_ignore_ascii_case("error") {
                    self.0.set_tag("error", TagValue::Boolean(true));
                }
            }
            name => self.0.set_text_tag(name, text),
        }
    }
}

/// traced's `span.kind` for an OpenTelemetry span kind; `internal`, traced's default, has no tag.
fn span_kind(kind: &str) -> Option<&'static str> {
    ["server", "client", "producer", "consumer"]
        .into_iter()
        .find(|k| kind.eq_ignore_ascii_case(k))
}

impl Visit for SpanFields<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set_tag(field.name(), TagValue::Integer(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.set_tag(field.name(), value.into_tag_value());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set_tag(field.name(), TagValue::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set_tag(field.name(), TagValue::Boolean(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, Cow::Borrowed(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, Cow::Owned(value.to_string()));
    }

    /// `Display` values (`%x`) arrive here too, written through their `Display`.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, Cow::Owned(format!("{value:?}")));
    }
}

/// An event as the log it becomes: `level`, `message`, then its other fields as text. An event
/// with an `error` field is an error event (OpenTelemetry's exception event, OpenTracing's
/// `event = error` log): the log says so and names the error `error.object`, and the span gets
/// `error = true`.
pub(crate) struct EventLog {
    fields: Vec<LogField>,
    is_error: bool,
}

impl EventLog {
    pub(crate) fn of(event: &Event<'_>) -> EventLog {
        let mut log = EventLog {
            fields: Vec::with_capacity(2 + event.fields().count()),
            is_error: false,
        };
        log.fields
            .push(LogField::new("level", level(event.metadata().level())));
        event.record(&mut log);
        if log.is_error {
            log.fields.insert(0, LogField::new("event", "error"));
        }
        log
    }

    /// Writes the log on `span`, and marks the span failed for an error event.
    pub(crate) fn write(self, span: &mut SpanRecord) {
        if self.is_error {
            span.set_tag("error", TagValue::Boolean(true));
        }
        span.push_log(Log::new(self.fields));
    }

    fn push(&mut self, field: &Field, text: String) {
        let name = match field.name() {
            "error" => {
                self.is_error = true;
                "error.object"
            }
            name => name,
        };
        self.fields.push(LogField::new(name, text));
    }
}

fn level(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        _ => "TRACE",
    }
}

impl Visit for EventLog {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}
