//! `SpanRecord`: one recorded span as sinks and test captures see it, and as the hot path
//! builds it: in place inside the span guard, moved whole into the tracer's queue when it finishes
//! (no allocation unless it has tags or logs made at run time), what is known at compile time
//! left in the call site's `static`.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ids::{SpanId, TraceId};
use crate::local::guard::Callsite;
use crate::tag::{LogField, StaticTag, Tag, TagValue};

/// How a span relates to its parent (OpenTracing references).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferenceKind {
    /// The parent depends on this span's result (the usual call).
    ChildOf,
    /// The parent does not wait for this span (a message consumer, a background job).
    FollowsFrom,
}

/// A timestamped event within a span: key/value fields such as `event`, `message`,
/// `error.kind`.
#[derive(Clone)]
pub struct Log {
    pub(crate) time: SystemTime,
    pub(crate) fields: Vec<LogField>,
}

impl Log {
    pub(crate) fn new(fields: Vec<LogField>) -> Self {
        Log {
            time: SystemTime::now(),
            fields,
        }
    }

    /// When the event happened.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// The fields, in the order they were given.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|f| (f.name(), f.value()))
    }

    /// The value of field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.fields()).finish()
    }
}

/// A finished span: what reporters send and what [`crate::testing`] captures.
///
/// Built on the application thread with as little as possible (ids, two readings of the CPU's
/// time-stamp counter, the tags computed at run time); everything derived (wall-clock time, the
/// tags that are the same on every call) is filled in or looked up on the reporter thread. It is
/// kept small (88 bytes) because it is moved whole, from the span guard into the queue and out:
/// at this size a move is a handful of register copies, not a `memcpy` call.
#[derive(Clone)]
pub struct SpanRecord {
    /// Name, tags and reference kind fixed at the call site.
    pub(crate) callsite: &'static Callsite,
    /// What only some spans have; allocated when the first of it is set.
    pub(crate) more: Option<Box<More>>,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_id: SpanId,
    /// The sampler's `sampler.type` and `sampler.param`, on root spans.
    pub(crate) sampler_tags: Option<&'static [StaticTag; 2]>,
    /// `fastant` reads the time-stamp counter where it is stable (about 12 ns here against 33 ns
    /// for `std::time::Instant`), and falls back to the system clock elsewhere.
    pub(crate) start: fastant::Instant,
    pub(crate) end: fastant::Instant,
    /// `start` on the wall clock, in nanoseconds since the Unix epoch; set by the reporter
    /// thread, from one clock anchor per batch, when 0 (a span reported from rustracing comes
    /// with it).
    pub(crate) wall_start: u64,
    pub(crate) flags: u8,
}

/// The parts of a span that are set at run time.
#[derive(Clone, Default)]
pub(crate) struct More {
    /// A name chosen at run time (an HTTP route), instead of the call site's.
    pub(crate) name: Option<String>,
    pub(crate) tags: Vec<Tag>,
    pub(crate) logs: Vec<Log>,
    /// The W3C `tracestate` of the trace as this service received it, passed on unchanged.
    pub(crate) trace_state: Option<String>,
}

impl SpanRecord {
    /// The operation name (`GetAllImages`, `HTTP GET /v0/images/{id}`).
    pub fn operation_name(&self) -> &str {
        match self.more.as_deref().and_then(|m| m.name.as_deref()) {
            Some(name) => name,
            None => self.callsite.name,
        }
    }

    /// The trace this span belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent span's id, `None` for a root span.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.parent_id.is_valid().then_some(self.parent_id)
    }

    /// How this span refers to its parent, `None` for a root span.
    pub fn reference_kind(&self) -> Option<ReferenceKind> {
        self.parent_id().map(|_| {
            if self.callsite.follows_from {
                ReferenceKind::FollowsFrom
            } else {
                ReferenceKind::ChildOf
            }
        })
    }

    /// The Jaeger flags byte: bit 0 sampled, bit 1 debug.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// When the span started, on the wall clock.
    pub fn start_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.wall_start)
    }

    /// How long the span ran.
    pub fn duration(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }

    /// Every tag, those fixed at the call site first, in the order they were set.
    pub fn tags(&self) -> impl Iterator<Item = (&str, TagValue)> + '_ {
        let sampler: &[StaticTag] = self.sampler_tags.map_or(&[], |tags| tags);
        let fixed = self
            .callsite
            .tags
            .iter()
            .chain(sampler)
            .map(|t| (t.key, t.value.to_tag_value()));
        let dynamic = self
            .more
            .iter()
            .flat_map(|m| m.tags.iter())
            .map(|t| (t.name(), t.value().clone()));
        fixed.chain(dynamic)
    }

    /// The value of tag `key` (the last one set, if it was set twice).
    pub fn tag(&self, key: &str) -> Option<TagValue> {
        self.tags()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// The logs, in the order they were written.
    pub fn logs(&self) -> &[Log] {
        self.more.as_deref().map_or(&[], |m| &m.logs)
    }

    /// The W3C `tracestate` the span's context carried (received with its trace's
    /// `traceparent`), exactly as received; OTLP exports it as the span's `trace_state`.
    pub fn trace_state(&self) -> Option<&str> {
        self.more.as_deref()?.trace_state.as_deref()
    }

    pub(crate) fn more(&mut self) -> &mut More {
        self.more.get_or_insert_with(Box::default)
    }

    pub(crate) fn set_tag(&mut self, key: impl Into<Cow<'static, str>>, value: TagValue) {
        self.more().tags.push(Tag::new(key, value));
    }

    pub(crate) fn push_log(&mut self, log: Log) {
        self.more().logs.push(log);
    }

    /// Marks the span failed: `error = true` and a log with `event = error`, the error's kind
    /// and message, as the OpenTracing conventions ask.
    pub(crate) fn set_error(&mut self, kind: &str, message: &dyn fmt::Display) {
        self.set_tag("error", TagValue::Boolean(true));
        self.push_log(Log::new(vec![
            LogField::new("event", "error"),
            LogField::new("error.kind", kind.to_owned()),
            LogField::new("message", message.to_string()),
        ]));
    }
}

impl fmt::Debug for SpanRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanRecord")
            .field("name", &self.operation_name())
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("parent_id", &self.parent_id())
            .field("reference", &self.reference_kind())
            .field("flags", &self.flags)
            .field("duration", &self.duration())
            .field("tags", &self.tags().collect::<Vec<_>>())
            .field("logs", &self.logs())
            .finish()
    }
}

// Moved whole on every sampled call: a field that grows it past the size LLVM moves in registers
// turns each move into a `memcpy` call (measured: +40 ns a span).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<SpanRecord>() <= 88);

/// A bare span with id `id`, for tests of the machinery spans pass through.
#[cfg(test)]
pub(crate) fn test_span(id: u64) -> SpanRecord {
    static CALLSITE: crate::local::guard::Callsite = crate::local::guard::Callsite {
        name: "test",
        tags: &[],
        follows_from: false,
    };
    SpanRecord {
        callsite: &CALLSITE,
        more: None,
        trace_id: crate::ids::TraceId::new(0, 1),
        span_id: crate::ids::SpanId::new(id),
        parent_id: crate::ids::SpanId::new(0),
        sampler_tags: None,
        start: fastant::Instant::ZERO,
        end: fastant::Instant::ZERO,
        wall_start: 0,
        flags: 1,
    }
}
