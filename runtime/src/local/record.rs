//! `SpanRecord`: one recorded span as sinks and test captures see it, and as the hot path
//! builds it: in place inside the span guard, copied once into the tracer's queue when it finishes
//! (no allocation unless it has logs, or more run-time tags than it holds in place), what is
//! known at compile time left in the call site's `static`.

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ids::{SpanId, TraceId};
use crate::local::guard::Callsite;
#[cfg(feature = "tracing")]
use crate::tag::ShortStr;
use crate::tag::{InlineTag, LogField, StaticTag, Tag, TagRef, TagValue};

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
/// tags that are the same on every call) is filled in or looked up on the reporter thread.
///
/// 168 bytes: the 88 of the ids, clocks and pointers, and room for `INLINE_TAGS` (two) run-time
/// tags (40 bytes each), so that a span with a computed tag or two (`#[traced(tags(n = x))]`, a
/// `tracing` span's fields) allocates nothing on the application thread; before, its first such
/// tag allocated a `Box<More>` and a `Vec<Tag>` there, freed on the reporter thread. The record
/// is built in place in the span guard and copied once, into the ring's slot, when it finishes
/// (see `SpanGuard::close`), so its size is one copy, not the several moves that once kept it
/// at 88.
///
/// In declaration order (`repr(C)`), the places for tags last: a record without run-time tags
/// never writes them, neither when it is built nor when it is copied into the ring, so its slot's
/// third cache line is left alone (see the `inline_tags` field).
#[repr(C)]
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
    /// How many of `inline_tags` are set: those before it are initialised, the rest are not.
    pub(crate) inline_len: u8,
    /// The first run-time tags with static keys, in the order set, before those in `more`;
    /// filled from the front. A tag goes here only while `more` holds none, so that the order
    /// they were set in is this one's then `more`'s.
    ///
    /// Uninitialised past `inline_len`, rather than `None`s: writing two `None`s was a store of
    /// all 80 bytes (a constant, on every sampled call), and copying the record into the ring's
    /// slot copied them too, touching a third cache line of the slot per span.
    pub(crate) inline_tags: [MaybeUninit<InlineTag>; INLINE_TAGS],
}

/// Run-time tags a record holds without allocating: a `#[traced]` function with a computed tag
/// or two, a `tracing` span with two fields (an id and a name, say). Each costs 40 bytes in every
/// sampled record, tags or not.
pub(crate) const INLINE_TAGS: usize = 2;

/// A record's `inline_tags` before any is set: nothing written (`inline_len` is 0).
pub(crate) const NO_INLINE_TAGS: [MaybeUninit<InlineTag>; INLINE_TAGS] =
    [const { MaybeUninit::uninit() }; INLINE_TAGS];

impl Drop for SpanRecord {
    fn drop(&mut self) {
        for tag in &mut self.inline_tags[..usize::from(self.inline_len)] {
            // SAFETY: the first `inline_len` are initialised, and dropped once, here.
            unsafe { tag.assume_init_drop() };
        }
    }
}

impl Clone for SpanRecord {
    fn clone(&self) -> Self {
        let mut inline_tags = NO_INLINE_TAGS;
        for (to, from) in inline_tags.iter_mut().zip(self.inline_tags()) {
            to.write(from.clone());
        }
        SpanRecord {
            callsite: self.callsite,
            more: self.more.clone(),
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_id: self.parent_id,
            sampler_tags: self.sampler_tags,
            start: self.start,
            end: self.end,
            wall_start: self.wall_start,
            flags: self.flags,
            inline_len: self.inline_len,
            inline_tags,
        }
    }
}

/// The span `write` writes whole, as a value: for the paths where a span does not go into a
/// ring's slot (the ring is full, or gone).
pub(crate) fn written(write: impl FnOnce(&mut MaybeUninit<SpanRecord>)) -> SpanRecord {
    let mut record = MaybeUninit::uninit();
    write(&mut record);
    // SAFETY: a writer writes every field (see `SpanGuard::close`, `Tracer::submit_with`).
    unsafe { record.assume_init() }
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
        let inline = self
            .inline_tags()
            .iter()
            .map(|t| (t.name(), t.value().to_tag_value()));
        let more = self
            .more
            .iter()
            .flat_map(|m| m.tags.iter())
            .map(|t| (t.name(), t.value().clone()));
        fixed.chain(inline).chain(more)
    }

    /// The tags set at run time, in the order they were set, borrowed (for the encoders).
    pub(crate) fn run_time_tags(&self) -> impl Iterator<Item = (&str, TagRef<'_>)> + '_ {
        let inline = self.inline_tags().iter().map(|t| (t.name(), t.value()));
        let more = self
            .more
            .iter()
            .flat_map(|m| m.tags.iter())
            .map(|t| (t.name(), TagRef::from(t.value())));
        inline.chain(more)
    }

    /// How many tags [`SpanRecord::run_time_tags`] gives.
    pub(crate) fn run_time_tag_count(&self) -> usize {
        self.inline_tags().len() + self.more.as_deref().map_or(0, |m| m.tags.len())
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

    /// The run-time tags held in place, in the order set.
    pub(crate) fn inline_tags(&self) -> &[InlineTag] {
        let set = &self.inline_tags[..usize::from(self.inline_len)];
        // SAFETY: the first `inline_len` are initialised; `MaybeUninit<T>` has `T`'s layout.
        unsafe { &*(ptr::from_ref(set) as *const [InlineTag]) }
    }

    pub(crate) fn more(&mut self) -> &mut More {
        self.more.get_or_insert_with(Box::default)
    }

    pub(crate) fn set_tag(&mut self, key: impl Into<Cow<'static, str>>, value: TagValue) {
        match key.into() {
            Cow::Borrowed(key) => {
                if self.has_inline_room() {
                    self.push_inline(InlineTag::new(key, value));
                    return;
                }
                self.more().tags.push(Tag::new(key, value));
            }
            key => self.more().tags.push(Tag::new(key, value)),
        }
    }

    /// Sets a tag whose value is text that may be borrowed for the call only (a `tracing`
    /// field's `&str`): kept in place when it is short and the record has room (no `String`:
    /// with the inline tags, a bridged span with an integer and a short string field allocates
    /// nothing), in a `String` otherwise.
    #[cfg(feature = "tracing")]
    // A hint for the bridge's field visitors (with `ShortStr::new` reading the text into a
    // register and the visitors' `text` inlined: the fields went from 4.8% to 1.8% of the calling
    // thread's `perf` samples of a bridged span with two fields, 2026-12-03).
    #[inline]
    pub(crate) fn set_text_tag(&mut self, key: &'static str, text: Cow<'_, str>) {
        if let Some(short) = ShortStr::new(&text) {
            if self.has_inline_room() {
                self.push_inline(InlineTag::short(key, short));
                return;
            }
        }
        self.set_tag(key, TagValue::String(Cow::Owned(text.into_owned())));
    }

    /// `true` when a run-time tag can go in the record itself: there is room, and no tag went to
    /// `more` already (a later one must follow it there, to keep the order).
    fn has_inline_room(&self) -> bool {
        usize::from(self.inline_len) < INLINE_TAGS
            && !self.more.as_deref().is_some_and(|m| !m.tags.is_empty())
    }

    /// Appends `tag` to the tags held in place; there must be room.
    fn push_inline(&mut self, tag: InlineTag) {
        self.inline_tags[usize::from(self.inline_len)].write(tag);
        self.inline_len += 1;
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

// Copied once on every sampled call (see the type's doc): a field that grows it costs that copy.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<SpanRecord>() <= 168);
// The places for tags begin after the first 88 bytes: on the slot's second and third cache lines,
// so that a record without run-time tags (never writing them) touches only the first two.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::offset_of!(SpanRecord, inline_tags) == 88);

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
        inline_len: 0,
        inline_tags: NO_INLINE_TAGS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(record: &SpanRecord) -> Vec<String> {
        record.tags().map(|(k, _)| k.to_owned()).collect()
    }

    #[test]
    fn run_time_tags_keep_their_order_past_those_held_in_place() {
        let mut record = test_span(1);
        record.set_tag("a", TagValue::Integer(1));
        record.set_tag("b", TagValue::Boolean(true));
        assert!(record.more.is_none(), "two tags are held in place");
        record.set_tag("c", TagValue::Float(0.5));
        record.set_tag("a", TagValue::Integer(2));
        assert_eq!(keys(&record), ["a", "b", "c", "a"]);
        assert_eq!(
            record.tag("a"),
            Some(TagValue::Integer(2)),
            "the last one set"
        );
        assert_eq!(record.run_time_tag_count(), 4);
        let borrowed: Vec<_> = record.run_time_tags().collect();
        assert_eq!(
            borrowed,
            [
                ("a", TagRef::I64(1)),
                ("b", TagRef::Bool(true)),
                ("c", TagRef::F64(0.5)),
                ("a", TagRef::I64(2)),
            ]
        );
    }

    #[test]
    fn a_tag_set_after_one_with_a_key_made_at_run_time_follows_it() {
        let mut record = test_span(1);
        record.set_tag(String::from("made"), TagValue::Integer(1));
        record.set_tag("fixed", TagValue::Integer(2));
        assert_eq!(keys(&record), ["made", "fixed"]);
        assert!(record.inline_tags().is_empty());
    }

    #[cfg(feature = "tracing")]
    #[test]
    fn short_text_is_held_in_place_and_long_text_in_a_string() {
        let mut record = test_span(1);
        record.set_text_tag("short", Cow::Borrowed("fifteen bytes!!"));
        record.set_text_tag("long", Cow::Borrowed("sixteen bytes!!!"));
        assert!(record.more.is_none());
        record.set_text_tag("third", Cow::Borrowed("x"));
        assert_eq!(
            record.tags().collect::<Vec<_>>(),
            [
                ("short", TagValue::from("fifteen bytes!!")),
                ("long", TagValue::from("sixteen bytes!!!")),
                ("third", TagValue::from("x")),
            ]
        );
        let short = record.inline_tags().first().map(InlineTag::value);
        assert_eq!(short, Some(TagRef::Str("fifteen bytes!!")));
    }
}
