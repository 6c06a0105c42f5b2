//! Carrying a trace across services: a [`Context`] written into the headers of an outgoing
//! request and read back from those of an incoming one, in the formats Jaeger users meet
//! (Jaeger's own, W3C Trace Context and Baggage, B3 single and multi), baggage included.
//!
//! Headers are untrusted input. Reading them never fails and never panics: a malformed,
//! oversized or inconsistent header is ignored (the request's span becomes a new root) and
//! counted in [`crate::Metrics::propagation_errors`]; baggage past the [`BaggageLimits`] is
//! dropped and counted in [`crate::Metrics::baggage_dropped`].
//!
//! ```
//! use std::collections::HashMap;
//! use traced::propagation::Propagator;
//! use traced::Context;
//!
//! let propagator = Propagator::default();
//! let mut incoming = HashMap::new();
//! incoming.insert("uber-trace-id".to_owned(), "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1".to_owned());
//! incoming.insert("uberctx-tenant".to_owned(), "acme".to_owned());
//!
//! let cx: Context = propagator.extract(&incoming);
//! assert_eq!(cx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert!(cx.is_sampled());
//! assert_eq!(cx.baggage("tenant"), Some("acme"));
//!
//! let mut outgoing = HashMap::new();
//! propagator.inject(&cx, &mut outgoing);
//! assert_eq!(outgoing["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! ```

mod b3;
mod baggage;
mod carrier;
mod jaeger;
mod process;
mod w3c;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use baggage::BaggageLimits;
pub use carrier::{Extractor, Injector};
pub(crate) use process::set_formats;

use crate::context::Context;
use crate::metrics::{BAGGAGE_DROPPED, PROPAGATION_ERRORS};

/// A header format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `uber-trace-id`, `uberctx-*`, `jaeger-baggage`, `jaeger-debug-id`.
    Jaeger,
    /// `traceparent`, `tracestate` and `baggage`.
    W3C,
    /// `b3`.
    B3Single,
    /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled`, `X-B3-Flags`.
    B3Multi,
}

impl Format {
    /// Every format, in the default extraction order.
    pub const ALL: [Format; 4] = [
        Format::Jaeger,
        Format::W3C,
        Format::B3Single,
        Format::B3Multi,
    ];
}

/// The error of parsing a [`Format`] name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFormatError(String);

impl std::fmt::Display for ParseFormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown propagation format {:?}: expected jaeger, w3c, b3 or b3multi",
            self.0
        )
    }
}

impl std::error::Error for ParseFormatError {}

impl FromStr for Format {
    type Err = ParseFormatError;

    /// `jaeger`, `w3c` (or `tracecontext`), `b3` and `b3multi`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jaeger" => Ok(Format::Jaeger),
            "w3c" | "tracecontext" => Ok(Format::W3C),
            "b3" => Ok(Format::B3Single),
            "b3multi" => Ok(Format::B3Multi),
            _ => Err(ParseFormatError(s.chars().take(64).collect())),
        }
    }
}

/// What one format found in a carrier.
pub(crate) enum Parsed {
    Absent,
    Invalid,
    Found(Context),
}

#[derive(Default, Debug)]
struct Stats {
    errors: AtomicU64,
    baggage_dropped: AtomicU64,
}

/// Reads contexts from headers and writes them into headers, in the configured formats.
///
/// Extraction tries the formats in order and takes the first valid context; injection writes
/// every configured format. The default reads all four formats (Jaeger, W3C, B3 single, B3
/// multi) and writes Jaeger and W3C, unless the process chose its formats
/// ([`crate::Config::propagation`], `OTEL_PROPAGATORS`): then it reads and writes those.
/// Clones share their counters.
#[derive(Clone)]
pub struct Propagator {
    extract: Vec<Format>,
    inject: Vec<Format>,
    limits: BaggageLimits,
    stats: Arc<Stats>,
}

impl Default for Propagator {
    fn default() -> Self {
        let (extract, inject) = match process::formats() {
            Some(formats) => (formats.clone(), formats),
            None => (Format::ALL.to_vec(), vec![Format::Jaeger, Format::W3C]),
        };
        Propagator {
            extract,
            inject,
            limits: BaggageLimits::default(),
            stats: Arc::default(),
        }
    }
}

impl fmt::Debug for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Propagator")
            .field("extract", &self.extract)
            .field("inject", &self.inject)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Propagator {
    /// The default propagator: reads every format, writes Jaeger and W3C (or the process's
    /// formats, once [`crate::init`] set them).
    pub fn new() -> Self {
        Propagator::default()
    }

    /// The formats read, in the order tried.
    #[must_use]
    pub fn extract_formats(mut self, formats: impl IntoIterator<Item = Format>) -> Self {
        self.extract = formats.into_iter().collect();
        self
    }

    /// The formats written.
    #[must_use]
    pub fn inject_formats(mut self, formats: impl IntoIterator<Item = Format>) -> Self {
        self.inject = formats.into_iter().collect();
        self
    }

    /// Caps on the baggage read from (and written to) one request.
    #[must_use]
    pub fn baggage_limits(mut self, limits: BaggageLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Headers this propagator found malformed, oversized or inconsistent.
    pub fn errors(&self) -> u64 {
        self.stats.errors.load(Ordering::Relaxed)
    }

    /// Baggage items this propagator dropped for its limits.
    pub fn baggage_dropped(&self) -> u64 {
        self.stats.baggage_dropped.load(Ordering::Relaxed)
    }

    fn count_error(&self) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        PROPAGATION_ERRORS.fetch_add(1, Ordering::Relaxed);
    }

    fn count_dropped(&self, n: u64) {
        if n > 0 {
            self.stats.baggage_dropped.fetch_add(n, Ordering::Relaxed);
            BAGGAGE_DROPPED.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The context the sender of these headers was in, to start this service's span under.
    /// [`Context::NONE`] (with the baggage, if any was sent) when no format gave a valid one: a
    /// span started under it is a new root.
    pub fn extract(&self, carrier: &(impl Extractor + ?Sized)) -> Context {
        self.extract_dyn(&Wrap(carrier))
    }

    fn extract_dyn(&self, carrier: &dyn Extractor) -> Context {
        let mut found: Option<Context> = None;
        let mut w3c_valid = false;
        for format in &self.extract {
            let parsed = match format {
                Format::Jaeger => jaeger::extract(carrier),
                Format::W3C => w3c::extract(carrier),
                Format::B3Single => b3::extract_single(carrier),
                Format::B3Multi => b3::extract_multi(carrier),
            };
            match parsed {
                Parsed::Absent => {}
                Parsed::Invalid => self.count_error(),
                Parsed::Found(cx) => {
                    w3c_valid |= *format == Format::W3C;
                    match &found {
                        None => found = Some(cx),
                        // Two formats naming different traces: the first in the order wins
                        // (a proxy may have added its own), and the disagreement is counted.
                        Some(first) if first.trace_id() != cx.trace_id() => self.count_error(),
                        Some(_) => {}
                    }
                }
            }
        }
        let mut cx = found.unwrap_or(Context::NONE);
        if w3c_valid {
            match w3c::tracestate(carrier) {
                Some(Ok(state)) if !state.is_empty() => cx = cx.with_tracestate(state),
                Some(Err(())) => self.count_error(),
                _ => {}
            }
        }
        if self.extract.contains(&Format::Jaeger) {
            // A debug id asks for a new, forcibly sampled trace; with a parent it is moot.
            match jaeger::debug_id(carrier) {
                Some(Ok(id)) if !cx.is_valid() => cx = cx.with_debug_id(id),
                Some(Err(())) => self.count_error(),
                _ => {}
            }
        }
        let mut incoming = baggage::Incoming::new(self.limits);
        for format in &self.extract {
            match format {
                Format::Jaeger => jaeger::extract_baggage(carrier, &mut incoming),
                Format::W3C => w3c::extract_baggage(carrier, &mut incoming),
                Format::B3Single | Format::B3Multi => {}
            }
        }
        self.count_dropped(incoming.dropped);
        for (key, value) in incoming.items {
            cx.set_baggage(key, value);
        }
        cx
    }

    /// Writes `cx` (ids, flags, trace state and baggage) into `carrier` in every configured
    /// format. Writes nothing for an empty context without baggage.
    pub fn inject(&self, cx: &Context, carrier: &mut (impl Injector + ?Sized)) {
        let mut carrier = WrapMut(carrier);
        for format in &self.inject {
            match format {
                Format::Jaeger => jaeger::inject(cx, &mut carrier),
                Format::W3C => {
                    let dropped = w3c::inject(cx, &mut carrier, &self.limits);
                    self.count_dropped(dropped);
                }
                Format::B3Single => b3::inject_single(cx, &mut carrier),
                Format::B3Multi => b3::inject_multi(cx, &mut carrier),
            }
        }
    }
}

/// Lets `extract` take unsized carriers while the formats take `&dyn Extractor`.
struct Wrap<'a, T: ?Sized>(&'a T);

impl<T: Extractor + ?Sized> Extractor for Wrap<'_, T> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    fn for_each_prefixed(&self, prefix: &str, f: &mut dyn FnMut(&str, &str)) {
        self.0.for_each_prefixed(prefix, f);
    }
}

struct WrapMut<'a, T: ?Sized>(&'a mut T);

impl<T: Injector + ?Sized> Injector for WrapMut<'_, T> {
    fn set(&mut self, name: &str, value: String) {
        self.0.set(name, value);
    }
}

#[cfg(test)]
mod tests;
