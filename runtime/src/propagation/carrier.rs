//! Carriers: where propagation reads and writes headers. Header names are case-insensitive, so
//! formats ask for lowercase names and carriers match them whatever case was sent.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// Headers a context is read from (an incoming request's).
///
/// Implemented for `HashMap<String, String>`, `Vec<(String, String)>` and, with the `http`
/// feature, `http::HeaderMap`.
pub trait Extractor {
    /// The value of the header `name` (given in lowercase; matched in any case). When a header
    /// is repeated, the first value.
    fn get(&self, name: &str) -> Option<&str>;

    /// Calls `f` with every header whose name starts with `prefix` (lowercase; matched in any
    /// case), for formats that carry one item per header (Jaeger's `uberctx-{key}` baggage).
    fn for_each_prefixed(&self, prefix: &str, f: &mut dyn FnMut(&str, &str));
}

/// Headers a context is written to (an outgoing request's).
pub trait Injector {
    /// Sets the header `name` (lowercase) to `value`, replacing any value it had.
    fn set(&mut self, name: &str, value: String);
}

fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The first value of the header `name` among `pairs`, matched in any case.
fn find_ignore_case<'a>(
    mut pairs: impl Iterator<Item = (&'a String, &'a String)>,
    name: &str,
) -> Option<&'a str> {
    pairs
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Calls `f` with the pairs whose name starts with `prefix`, in any case.
fn for_each_prefixed<'a>(
    pairs: impl Iterator<Item = (&'a String, &'a String)>,
    prefix: &str,
    f: &mut dyn FnMut(&str, &str),
) {
    for (k, v) in pairs {
        if starts_with_ignore_case(k, prefix) {
            f(k, v);
        }
    }
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name)
            .map(String::as_str)
            .or_else(|| find_ignore_case(self.iter(), name))
    }

    fn for_each_prefixed(&self, prefix: &str, f: &mut dyn FnMut(&str, &str)) {
        for_each_prefixed(self.iter(), prefix, f);
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &str, value: String) {
        self.insert(name.to_owned(), value);
    }
}

impl Extractor for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        find_ignore_case(self.iter().map(|(k, v)| (k, v)), name)
    }

    fn for_each_prefixed(&self, prefix: &str, f: &mut dyn FnMut(&str, &str)) {
        for_each_prefixed(self.iter().map(|(k, v)| (k, v)), prefix, f);
    }
}

impl Injector for Vec<(String, String)> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value));
    }
}

/// The header names the formats read, parsed once: a `HeaderMap` lookup by `&str` parses the
/// name on every call, which was most of the cost of reading a request's context.
#[cfg(feature = "http")]
fn known(name: &str) -> Option<&'static http::HeaderName> {
    use super::{b3, jaeger, w3c};
    use http::HeaderName;
    macro_rules! known {
        ($($name:expr),* $(,)?) => {{
            $({
                static HEADER: HeaderName = HeaderName::from_static($name);
                if name == $name {
                    return Some(&HEADER);
                }
            })*
            None
        }};
    }
    known!(
        jaeger::TRACE_HEADER,
        w3c::TRACEPARENT,
        b3::SINGLE,
        b3::TRACE_ID,
        b3::SPAN_ID,
        b3::PARENT_ID,
        b3::SAMPLED,
        b3::FLAGS,
        w3c::TRACESTATE,
        jaeger::DEBUG_HEADER,
        jaeger::BAGGAGE_HEADER,
        w3c::BAGGAGE,
    )
}

#[cfg(feature = "http")]
impl Extractor for http::HeaderMap {
    fn get(&self, name: &str) -> Option<&str> {
        let value = match known(name) {
            Some(name) => http::HeaderMap::get(self, name),
            None => http::HeaderMap::get(self, name),
        };
        // A value that is not visible ASCII cannot be a valid trace header: treated as absent.
        value?.to_str().ok()
    }

    fn for_each_prefixed(&self, prefix: &str, f: &mut dyn FnMut(&str, &str)) {
        // `HeaderMap` names are lowercase already.
        for (k, v) in self {
            if k.as_str().starts_with(prefix) {
                if let Ok(v) = v.to_str() {
                    f(k.as_str(), v);
                }
            }
        }
    }
}

#[cfg(feature = "http")]
impl Injector for http::HeaderMap {
    fn set(&mut self, name: &str, value: String) {
        // Names come from the formats (valid tokens) and baggage keys (checked before they get
        // here), values are encoded: a failure means a bug, and a header is skipped rather than
        // the request failed.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::try_from(value),
        ) {
            self.insert(name, value);
        }
    }
}
