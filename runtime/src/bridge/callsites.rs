//! The traced call site of each `tracing` call site: made the first time a span of it is
//! recorded, and kept for the life of the process, as `#[traced]`'s are `static`s.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{OnceLock, PoisonError, RwLock};

use tracing_core::Metadata;

use crate::local::guard::Callsite;
use crate::tag::{StaticTag, StaticValue};

/// The call sites made so far, by the address of their `tracing` metadata (a `static` of the
/// call site, one per site). One map for the process: a call site is the same whichever layer
/// records its spans.
static MADE: OnceLock<RwLock<HashMap<usize, &'static Callsite, BuildHasherDefault<ByAddress>>>> =
    OnceLock::new();

/// How many call sites a thread keeps at hand.
const RECENT: usize = 16;

thread_local! {
    /// The call sites this thread found last, each in a slot chosen by its metadata's address:
    /// found here, a span takes no lock (the map's read lock and its release, two atomic
    /// operations per span, were 1.5% of the calling thread's `perf` samples of a bridged span,
    /// 0.9% with this; 2026-12-03).
    static FOUND: [Cell<Option<(usize, &'static Callsite)>>; RECENT] = const { [NOT_FOUND; RECENT] };
}

/// An empty slot of `FOUND`: a constant, to repeat a value that is not `Copy` (inline `const`
/// blocks need Rust 1.79, past the MSRV).
#[allow(clippy::declare_interior_mutable_const)]
const NOT_FOUND: Cell<Option<(usize, &'static Callsite)>> = Cell::new(None);

/// The call site for spans of `meta`: its name, and its module, file and line as the
/// OpenTelemetry `code.*` tags, which cost nothing per span.
pub(crate) fn get(meta: &'static Metadata<'static>) -> &'static Callsite {
    let key = std::ptr::from_ref(meta) as usize;
    // The high bits of the Fibonacci hash, which depend on every bit of the address.
    let slot = (fibonacci(key as u64) >> (u64::BITS - RECENT.trailing_zeros())) as usize;
    let found = FOUND.try_with(|found| found[slot].get()).ok().flatten();
    if let Some((at, callsite)) = found {
        if at == key {
            return callsite;
        }
    }
    let callsite = shared(key, meta);
    let _ = FOUND.try_with(|found| found[slot].set(Some((key, callsite))));
    callsite
}

/// The call site from the process's map, made and added on the first span of its site.
fn shared(key: usize, meta: &'static Metadata<'static>) -> &'static Callsite {
    let made = MADE.get_or_init(RwLock::default);
    if let Some(callsite) = made
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return callsite;
    }
    let mut map = made.write().unwrap_or_else(PoisonError::into_inner);
    map.entry(key).or_insert_with(|| make(meta))
}

/// Leaked once per `tracing` call site: there are as many as the program has span macros.
fn make(meta: &'static Metadata<'static>) -> &'static Callsite {
    let tags = [
        meta.module_path()
            .map(|m| ("code.namespace", StaticValue::Str(m))),
        meta.file().map(|f| ("code.filepath", StaticValue::Str(f))),
        meta.line()
            .map(|l| ("code.lineno", StaticValue::I64(l.into()))),
    ];
    let tags: Vec<StaticTag> = tags
        .into_iter()
        .flatten()
        .map(|(key, value)| StaticTag { key, value })
        .collect();
    Box::leak(Box::new(Callsite {
        name: meta.name(),
        tags: Box::leak(tags.into_boxed_slice()),
        follows_from: false,
    }))
}

/// Fibonacci hashing: one multiply, whose high bits depend on every bit of `n`.
fn fibonacci(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Hashes a key that is already an address: one multiply, where the default hasher (SipHash)
/// would take several times as long for one `usize`.
#[derive(Default)]
pub(crate) struct ByAddress(u64);

impl Hasher for ByAddress {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = fibonacci(self.0 << 8 | u64::from(b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        // hashbrown uses the high bits.
        self.0 = fibonacci(n as u64);
    }
}
