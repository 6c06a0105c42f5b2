//! What the bridge keeps for a `tracing` span that takes part in a trace, in the span's
//! registry extensions: its traced span, whose context is entered whenever the span is.

use crate::context::Context;
use crate::local::guard::SpanGuard;
use crate::local::record::SpanRecord;

/// A bridged span. Only spans in a sampled trace, and the unsampled roots that carry the
/// decision to their descendants, have one; inside an unsampled trace a span has none and costs
/// no allocation.
///
/// The traced span is finished (moved into the tracer's queue) when the `tracing` span closes
/// and its extensions are dropped. Its guard's own scope is never entered: the bridge enters
/// copies of its context, read in place.
pub(crate) struct Bridged(SpanGuard);

// SAFETY: a `SpanGuard` is not `Sync` because its `&self` methods write to its record through a
// cell, and its scopes swap its context through one. Here the record is reached only through
// `&mut Bridged` (the registry's exclusive extensions lock), and no scope of the guard is
// entered: a shared `&Bridged` reads the context alone.
unsafe impl Sync for Bridged {}

impl Bridged {
    /// No span yet: one is started in place, through [`Bridged::guard`], so that the guard
    /// (some 200 bytes) is not copied on its way into the registry's extensions.
    pub(crate) fn off() -> Bridged {
        Bridged(SpanGuard::off())
    }

    /// The guard, to start.
    pub(crate) fn guard(&mut self) -> &mut SpanGuard {
        &mut self.0
    }

    /// Gives the started span's context its ids; `false` when the guard holds no span (no
    /// tracer, or an ambient unsampled trace), so that nothing is to be stored.
    pub(crate) fn started(&mut self) -> bool {
        self.0.make_ids();
        self.0.enters_scope()
    }

    /// The span's context, with its ids made: entered as is on every enter, so that every entry
    /// sees the same trace.
    pub(crate) fn context(&self) -> &Context {
        static NONE: Context = Context::NONE;
        // SAFETY: the guard's scope is never entered: `Bridged` enters none, and a scope entered
        // through `guard()` would borrow `self` exclusively for its life.
        unsafe { self.0.context_unentered() }.unwrap_or(&NONE)
    }

    /// Runs `f` on the span's record, when it is recorded.
    pub(crate) fn with_record(&mut self, f: impl FnOnce(&mut SpanRecord)) {
        self.0.with_record(f);
    }
}
