//! Samplers: which new traces are recorded. They decide for root spans only; every other span
//! inherits its parent's decision, so a trace is recorded whole or not at all.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::ids::TraceId;
use crate::tag::{StaticTag, StaticValue};

/// Decides whether a new trace is recorded, the way Jaeger clients do (`JAEGER_SAMPLER_TYPE`).
///
/// ```
/// use traced::Sampler;
///
/// let all = Sampler::always();
/// let tenth = Sampler::probabilistic(0.1).unwrap();
/// let two_per_second = Sampler::rate_limiting(2.0).unwrap();
/// assert!(Sampler::probabilistic(1.5).is_err());
/// # let _ = (all, tenth, two_per_second);
/// ```
pub struct Sampler {
    kind: Kind,
}

enum Kind {
    Const(bool),
    /// Jaeger's rule: sampled when the low 63 bits of the trace id are at most `boundary`, so
    /// every service with the same rate decides the same for the same trace.
    Probabilistic {
        rate: f64,
        boundary: u64,
    },
    RateLimiting(RateLimiter),
}

/// The error of a sampler parameter out of range.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplerError {
    /// A probability outside `0.0..=1.0`.
    Probability(f64),
    /// A negative or non-finite rate.
    Rate(f64),
}

impl std::fmt::Display for SamplerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SamplerError::Probability(p) => {
                write!(f, "sampling probability {p} is not between 0 and 1")
            }
            SamplerError::Rate(r) => write!(
                f,
                "sampling rate {r} is not a finite number of traces per second >= 0"
            ),
        }
    }
}

impl std::error::Error for SamplerError {}

impl Sampler {
    /// Records every trace (Jaeger `const` 1).
    pub fn always() -> Self {
        Sampler {
            kind: Kind::Const(true),
        }
    }

    /// Records no trace unless forced by a caller (Jaeger `const` 0).
    pub fn never() -> Self {
        Sampler {
            kind: Kind::Const(false),
        }
    }

    /// Records each trace with probability `rate` (Jaeger `probabilistic`).
    pub fn probabilistic(rate: f64) -> Result<Self, SamplerError> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(SamplerError::Probability(rate));
        }
        const MAX: u64 = u64::MAX >> 1;
        // The float product is exact enough; the cast saturates at MAX for rate 1.0.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let boundary = (MAX as f64 * rate) as u64;
        Ok(Sampler {
            kind: Kind::Probabilistic { rate, boundary },
        })
    }

    /// Records at most `per_second` traces per second, in bursts of up to `max(1, per_second)`
    /// (Jaeger `ratelimiting`).
    pub fn rate_limiting(per_second: f64) -> Result<Self, SamplerError> {
        if !per_second.is_finite() || per_second < 0.0 {
            return Err(SamplerError::Rate(per_second));
        }
        Ok(Sampler {
            kind: Kind::RateLimiting(RateLimiter::new(per_second)),
        })
    }

    /// Decides for a new trace; returns the trace id it drew, if the decision needed one (an
    /// unsampled trace gets ids only if they are asked for).
    #[inline]
    pub(crate) fn sample(&self) -> (bool, Option<TraceId>) {
        match &self.kind {
            Kind::Probabilistic { .. } => {
                let trace_id = crate::ids::trace_id();
                (self.sample_trace(trace_id), Some(trace_id))
            }
            _ => (self.sample_trace(TraceId::default()), None),
        }
    }

    /// Decides for the trace `trace_id`.
    #[inline]
    pub(crate) fn sample_trace(&self, trace_id: TraceId) -> bool {
        match &self.kind {
            Kind::Const(decision) => *decision,
            Kind::Probabilistic { boundary, .. } => trace_id.low() & (u64::MAX >> 1) <= *boundary,
            Kind::RateLimiting(limiter) => limiter.try_acquire(),
        }
    }

    /// The tags Jaeger clients put on a sampled root span: which sampler chose it, and with what
    /// parameter.
    pub(crate) fn tags(&self) -> [StaticTag; 2] {
        let (name, param) = match &self.kind {
            Kind::Const(decision) => ("const", StaticValue::Bool(*decision)),
            Kind::Probabilistic { rate, .. } => ("probabilistic", StaticValue::F64(*rate)),
            Kind::RateLimiting(limiter) => ("ratelimiting", StaticValue::F64(limiter.per_second)),
        };
        [
            StaticTag {
                key: "sampler.type",
                value: StaticValue::Str(name),
            },
            StaticTag {
                key: "sampler.param",
                value: param,
            },
        ]
    }
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Const(d) => write!(f, "Sampler::const({d})"),
            Kind::Probabilistic { rate, .. } => write!(f, "Sampler::probabilistic({rate})"),
            Kind::RateLimiting(l) => write!(f, "Sampler::rate_limiting({})", l.per_second),
        }
    }
}

/// A lock-free token bucket in the form of GCRA: one atomic holds the theoretical arrival time of
/// the next trace; taking a token is one compare-and-swap.
struct RateLimiter {
    per_second: f64,
    /// Nanoseconds between two traces at the steady rate.
    interval: u64,
    /// How far ahead of now the arrival time may run: the burst.
    tolerance: u64,
    origin: Instant,
    next_free: AtomicU64,
}

impl RateLimiter {
    fn new(per_second: f64) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let interval = if per_second > 0.0 {
            (1e9 / per_second).min(u64::MAX as f64 / 4.0) as u64
        } else {
            u64::MAX / 4
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let burst = per_second.clamp(1.0, 1e9) as u64;
        RateLimiter {
            per_second,
            interval,
            tolerance: interval.saturating_mul(burst),
            origin: Instant::now(),
            next_free: AtomicU64::new(0),
        }
    }

    fn try_acquire(&self) -> bool {
        #[allow(clippy::cast_possible_truncation)]
        self.try_acquire_at(self.origin.elapsed().as_nanos() as u64)
    }

    /// Takes a token at `now` nanoseconds after `origin`.
    fn try_acquire_at(&self, now: u64) -> bool {
        if self.per_second <= 0.0 {
            return false;
        }
        let mut tat = self.next_free.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            let next = start.saturating_add(self.interval);
            if next - now > self.tolerance {
                return false;
            }
            match self.next_free.compare_exchange_weak(
                tat,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilistic_sampling_follows_the_rate_and_is_decided_by_trace_id() {
        let sampler = Sampler::probabilistic(0.25).unwrap();
        let sampled = (0..40_000)
            .filter(|_| sampler.sample_trace(crate::ids::trace_id()))
            .count();
        assert!(
            (8_000..12_000).contains(&sampled),
            "{sampled} of 40000 at 25%"
        );
        let id = crate::ids::trace_id();
        let first = sampler.sample_trace(id);
        assert!((0..100).all(|_| sampler.sample_trace(id) == first));
        assert!((0..1000).all(|_| Sampler::probabilistic(1.0)
            .unwrap()
            .sample_trace(crate::ids::trace_id())));
        assert!((0..1000).all(|_| !Sampler::probabilistic(0.0)
            .unwrap()
            .sample_trace(crate::ids::trace_id())));
    }

    #[test]
    fn rate_limiting_allows_a_burst_then_the_steady_rate() {
        let limiter = RateLimiter::new(5.0);
        let second = 1_000_000_000;
        let at = |t: u64| (0..100).filter(|_| limiter.try_acquire_at(t)).count();
        assert_eq!(at(10 * second), 5, "a burst of max(1, rate)");
        assert_eq!(
            at(10 * second + second / 10),
            0,
            "nothing more within 200 ms"
        );
        assert_eq!(at(10 * second + second / 5), 1, "one per 200 ms after that");
        assert_eq!(at(20 * second), 5, "the burst refills when idle");
        assert!(!Sampler::rate_limiting(0.0)
            .unwrap()
            .sample_trace(TraceId::new(1, 1)));
        let slow = RateLimiter::new(0.5);
        assert_eq!((0..10).filter(|_| slow.try_acquire_at(second)).count(), 1);
        assert!(!slow.try_acquire_at(2 * second));
        assert!(slow.try_acquire_at(3 * second));
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert_eq!(
            Sampler::probabilistic(-0.1).unwrap_err(),
            SamplerError::Probability(-0.1)
        );
        assert!(Sampler::rate_limiting(f64::NAN).is_err());
        assert!(Sampler::rate_limiting(-1.0).is_err());
    }
}
