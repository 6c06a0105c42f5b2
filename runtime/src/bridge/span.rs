//! What the bridge keeps for a `tracing` span that takes part in a trace, in the span's
//! registry extensions: its context, entered whenever the span is, and its traced span.

use crate::context::Context;
use crate::local::guard::SpanGuard;
use crate::local::record::SpanRecord;

/// A bridged span. Only spans in a sampled trace, and the unsampled roots that carry the
/// decision to their descendants, have one; inside an unsampled trace a span has none and costs
/// no allocation.
pub(crate) struct Bridged {
    /// The span's context, with its ids made: entered as is on every enter, so every entry
    /// sees the same trace.
    cx: Context,
    guard: Guard,
}

/// The traced span, finished (moved into the tracer's queue) when the `tracing` span closes
/// and its extensions are dropped.
struct Guard(SpanGuard);

// SAFETY: a `SpanGuard` is not `Sync` because its `&self` methods write to its record through a
// cell. Here it is reached only through `&mut Bridged` (the registry's exclusive extensions
// lock): a shared `&Bridged` gives access to the context alone.
unsafe impl Sync for Guard {}

impl Bridged {
    /// No span yet: one is started in place, through [`Bridged::guard`], so that the guard
    /// (some 150 bytes) is not copied on its way into the registry's extensions.
    pub(crate) fn off() -> Bridged {
        Bridged {
            cx: Context::NONE,
            guard: Guard(SpanGuard::off()),
        }
    }

    /// The guard, to start.
    pub(crate) fn guard(&mut self) -> &mut SpanGuard {
        &mut self.guard.0
    }

    /// Takes the started span's context; `false` when the guard holds no span (no tracer, or
    /// an ambient unsampled trace), so that nothing is to be stored.
    pub(crate) fn started(&mut self) -> bool {
        if !self.guard.0.enters_scope() {
            return false;
        }
        self.cx = self.guard.0.context();
        true
    }

    /// The span's context.
    pub(crate) fn context(&self) -> &Context {
        &self.cx
    }

    /// Runs `f` on the span's record, when it is recorded.
    pub(crate) fn with_record(&mut self, f: impl FnOnce(&mut SpanRecord)) {
        self.guard.0.with_record(f);
    }
}
