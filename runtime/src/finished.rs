//! `FinishedSpan`: one recorded span as sinks and test captures see it, and as the hot path
//! builds it (one allocation per sampled span, tags known at compile time left in their `static`).

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use rustracing::log::LogField;
use rustracing::tag::Tag;

use crate::context::{SpanId, TraceId};
use crate::tag::{StaticTag, TagValue};
use crate::tracer::Tracer;

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
/// Built on the application thread with as little as possible (ids, two clock readings, the tags
/// computed at run time); everything derived (wall-clock time, the tags that are the same on
/// every call) is filled in or looked up on the reporter thread.
#[derive(Clone)]
pub struct FinishedSpan {
    pub(crate) tracer: &'static Tracer,
    pub(crate) name: Cow<'static, str>,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_id: SpanId,
    pub(crate) flags: u8,
    pub(crate) follows_from: bool,
    /// Tags of the call site, then (on root spans) the sampler's.
    pub(crate) static_tags: [&'static [StaticTag]; 2],
    pub(crate) tags: Vec<Tag>,
    pub(crate) logs: Vec<Log>,
    pub(crate) start: Instant,
    pub(crate) end: Instant,
    /// `start` on the wall clock; set by the reporter thread, from one clock anchor per batch.
    pub(crate) wall_start: SystemTime,
}

impl FinishedSpan {
    /// The operation name (`GetAllImages`, `HTTP GET /v0/images/{id}`).
    pub fn operation_name(&self) -> &str {
        &self.name
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
            if self.follows_from {
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
        self.wall_start
    }

    /// How long the span ran.
    pub fn duration(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }

    /// Every tag, those fixed at the call site first, in the order they were set.
    pub fn tags(&self) -> impl Iterator<Item = (&str, TagValue)> + '_ {
        let fixed = self
            .static_tags
            .iter()
            .flat_map(|tags| tags.iter())
            .map(|t| (t.key, t.value.to_tag_value()));
        let dynamic = self.tags.iter().map(|t| (t.name(), t.value().clone()));
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
        &self.logs
    }

    pub(crate) fn set_tag(&mut self, key: impl Into<Cow<'static, str>>, value: TagValue) {
        self.tags.push(Tag::new(key, value));
    }
}

impl fmt::Debug for FinishedSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishedSpan")
            .field("name", &self.name)
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("parent_id", &self.parent_id())
            .field("reference", &self.reference_kind())
            .field("flags", &self.flags)
            .field("duration", &self.duration())
            .field("tags", &self.tags().collect::<Vec<_>>())
            .field("logs", &self.logs)
            .finish()
    }
}
