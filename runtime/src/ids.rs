//! Span and trace ids: random, non-zero, from a per-thread generator that costs a multiply, so a
//! new span never takes a lock or a system call for its id.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use crate::context::{SpanId, TraceId};

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// wyrand: passes BigCrush, one 128-bit multiply per number. Ids need to be unique, not secret.
#[inline]
fn next_u64() -> u64 {
    STATE
        .try_with(|state| {
            let mut s = state.get();
            if s == 0 {
                s = seed();
            }
            s = s.wrapping_add(0xa076_1d64_78bd_642f);
            state.set(s);
            mix(s)
        })
        .unwrap_or_else(|_| mix(seed()))
}

#[inline]
fn mix(s: u64) -> u64 {
    let t = u128::from(s).wrapping_mul(u128::from(s ^ 0xe703_7ed1_a0b4_28db));
    ((t >> 64) as u64) ^ (t as u64)
}

/// Per-thread seed: std's `RandomState` keys come from the OS once per thread and change with
/// every instance, so two threads (or two processes) never share a sequence.
#[cold]
fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    hasher.finish() | 1
}

/// A new span id, never 0.
#[inline]
pub(crate) fn span_id() -> SpanId {
    loop {
        let id = next_u64();
        if id != 0 {
            return SpanId::new(id);
        }
    }
}

/// A new 128-bit trace id, never 0.
#[inline]
pub(crate) fn trace_id() -> TraceId {
    loop {
        let id = TraceId::new(next_u64(), next_u64());
        if id.low() != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn ids_are_distinct_and_non_zero_across_threads() {
        let ids: Vec<u64> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..10_000)
                        .map(|_| super::span_id().get())
                        .collect::<Vec<_>>()
                })
            })
            .flat_map(|t| t.join().unwrap())
            .collect();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(!unique.contains(&0));
        let traces: HashSet<_> = (0..10_000).map(|_| super::trace_id()).collect();
        assert_eq!(traces.len(), 10_000);
        assert!(traces.iter().all(|t| t.low() != 0));
    }
}
