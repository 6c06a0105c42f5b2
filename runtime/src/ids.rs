//! Span and trace ids: the types (as Jaeger and W3C show them), and their generation: random,
//! non-zero, from a per-thread generator that costs a multiply, so a new span never takes a lock
//! or a system call for its id.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use std::fmt;
use std::str::FromStr;

/// The 128-bit id shared by every span of one trace.
///
/// Displayed as Jaeger shows it: 32 lowercase hex digits, or 16 when the high half is zero (a
/// trace started by a client that uses 64-bit ids).
///
/// ```
/// let id: traced::TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(id.high(), 0x4bf92f3577b34da6);
/// let short: traced::TraceId = "a3ce929d0e0e4736".parse().unwrap();
/// assert_eq!(short.to_string(), "a3ce929d0e0e4736");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId {
    high: u64,
    low: u64,
}

impl TraceId {
    /// Builds a trace id from its two halves.
    pub const fn new(high: u64, low: u64) -> Self {
        TraceId { high, low }
    }

    /// Builds a trace id from one 128-bit number.
    pub const fn from_u128(id: u128) -> Self {
        TraceId {
            high: (id >> 64) as u64,
            low: id as u64,
        }
    }

    /// The id as one 128-bit number.
    pub const fn to_u128(self) -> u128 {
        ((self.high as u128) << 64) | self.low as u128
    }

    /// The most significant 64 bits (0 for a 64-bit trace id).
    pub const fn high(self) -> u64 {
        self.high
    }

    /// The least significant 64 bits.
    pub const fn low(self) -> u64 {
        self.low
    }

    /// `false` for the all-zero id, which no valid trace has.
    pub const fn is_valid(self) -> bool {
        self.high != 0 || self.low != 0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.high == 0 {
            write!(f, "{:016x}", self.low)
        } else {
            write!(f, "{:016x}{:016x}", self.high, self.low)
        }
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// The error of parsing a [`TraceId`] or [`SpanId`] from text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    what: &'static str,
    max: usize,
    value: String,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ParseIdError { what, max, value } = self;
        write!(
            f,
            "invalid {what} {value:?}: expected 1 to {max} hex digits, not all zero"
        )
    }
}

impl std::error::Error for ParseIdError {}

impl ParseIdError {
    fn new(what: &'static str, max: usize, value: &str) -> Self {
        // Header values are untrusted: keep the error small whatever was sent.
        let value = value.chars().take(64).collect();
        ParseIdError { what, max, value }
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl FromStr for TraceId {
    type Err = ParseIdError;

    /// Parses 1 to 32 hex digits; shorter ids are 64-bit ids, as Jaeger clients send them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > 32 || !is_hex(s) {
            return Err(ParseIdError::new("trace id", 32, s));
        }
        // Validated above: both halves parse.
        let split = s.len().saturating_sub(16);
        let half = |h: &str| {
            if h.is_empty() {
                Ok(0)
            } else {
                u64::from_str_radix(h, 16)
            }
        };
        let id = match (half(&s[..split]), half(&s[split..])) {
            (Ok(high), Ok(low)) => TraceId { high, low },
            _ => return Err(ParseIdError::new("trace id", 32, s)),
        };
        if id.is_valid() {
            Ok(id)
        } else {
            Err(ParseIdError::new("trace id", 32, s))
        }
    }
}

/// The 64-bit id of one span within its trace. Displayed as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(u64);

impl SpanId {
    /// Wraps a raw id.
    pub const fn new(id: u64) -> Self {
        SpanId(id)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `false` for 0, which no valid span has.
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

impl FromStr for SpanId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > 16 || !is_hex(s) {
            return Err(ParseIdError::new("span id", 16, s));
        }
        match u64::from_str_radix(s, 16) {
            Ok(id) if id != 0 => Ok(SpanId(id)),
            _ => Err(ParseIdError::new("span id", 16, s)),
        }
    }
}

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
