//! The per-call path: everything a traced call runs, in one module, so its cost can be read in
//! one place (fastrace's `local/` is the model).
//!
//! A call starts a [`guard::SpanGuard`] (parent from the [`current`] slot or an explicit
//! context, sampling decided only for roots, ids from [`crate::ids`]), builds its
//! [`record::SpanRecord`] in place when sampled, makes itself current around the body (a sync
//! call's [`sync_span::SyncSpan`] in the same call that starts it; a future wrapper,
//! [`instrument`], around every poll), and when dropped moves the
//! record into its thread's [`queue`] (a [`ring`] the reporter drains). A panic that unwinds
//! through the guard is recorded on the way ([`panics`]).
//!
//! Nothing here imports the tracer's cold half (`crate::tracer`: install, flush, shutdown) or
//! reporting: they are built on this.

pub(crate) mod counters;
pub(crate) mod current;
pub(crate) mod guard;
pub(crate) mod instrument;
pub(crate) mod panics;
pub(crate) mod queue;
pub(crate) mod record;
pub(crate) mod ring;
pub(crate) mod sync;
pub(crate) mod sync_span;
