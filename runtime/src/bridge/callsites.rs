//! The traced call site of each `tracing` call site: made the first time a span of it is
//! recorded, and kept for the life of the process, as `#[traced]`'s are `static`s.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{PoisonError, RwLock};

use tracing_core::Metadata;

use crate::local::guard::Callsite;
use crate::tag::{StaticTag, StaticValue};

/// The call sites made so far, by the address of their `tracing` metadata (a `static` of the
/// call site, one per site).
#[derive(Default)]
pub(crate) struct Callsites(
    RwLock<HashMap<usize, &'static Callsite, BuildHasherDefault<ByAddress>>>,
);

impl Callsites {
    /// The call site for spans of `meta`: its name, and its module, file and line as the
    /// OpenTelemetry `code.*` tags, which cost nothing per span.
    pub(crate) fn get(&self, meta: &'static Metadata<'static>) -> &'static Callsite {
        let key = std::ptr::from_ref(meta) as usize;
        if let Some(callsite) = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return callsite;
        }
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(key).or_insert_with(|| make(meta))
    }
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
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing: the high bits, which hashbrown uses, depend on every bit of `n`.
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
