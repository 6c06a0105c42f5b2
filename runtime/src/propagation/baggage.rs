//! Baggage as it crosses process boundaries: the limits that keep hostile headers from growing
//! without bound, and the percent-encoding that keeps values valid in headers.

use std::borrow::Cow;

/// Caps on the baggage read from one request. Items past a cap are dropped and counted
/// ([`crate::Metrics::baggage_dropped`]); the request goes on. The defaults follow the W3C
/// Baggage limits: 64 items and 8192 bytes in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaggageLimits {
    /// Items kept at most.
    pub max_items: usize,
    /// Bytes of keys and values kept at most, all items together.
    pub max_bytes: usize,
    /// Bytes of one value at most; a longer item is dropped whole (a cut value would be wrong).
    pub max_value_bytes: usize,
}

impl Default for BaggageLimits {
    fn default() -> Self {
        BaggageLimits {
            max_items: 64,
            max_bytes: 8192,
            max_value_bytes: 4096,
        }
    }
}

/// Baggage being read from one carrier, within the limits.
pub(super) struct Incoming {
    limits: BaggageLimits,
    pub(super) items: Vec<(String, String)>,
    bytes: usize,
    pub(super) dropped: u64,
}

impl Incoming {
    pub(super) fn new(limits: BaggageLimits) -> Self {
        Incoming {
            limits,
            items: Vec::new(),
            bytes: 0,
            dropped: 0,
        }
    }

    /// Adds an item whose value is still encoded; drops it (counted) when the key is not a
    /// token, the value does not decode, or a limit would be passed.
    pub(super) fn add(&mut self, key: &str, encoded: &str, plus_is_space: bool) {
        let key = key.trim();
        if !is_token(key) || encoded.len() > self.limits.max_value_bytes.saturating_mul(3) {
            self.dropped += 1;
            return;
        }
        let Some(value) = decode(encoded.trim(), plus_is_space) else {
            self.dropped += 1;
            return;
        };
        if value.len() > self.limits.max_value_bytes {
            self.dropped += 1;
            return;
        }
        let size = key.len() + value.len();
        if let Some(i) = self.items.iter().position(|(k, _)| k == key) {
            let old = key.len() + self.items[i].1.len();
            if self.bytes - old + size > self.limits.max_bytes {
                self.dropped += 1;
            } else {
                self.bytes = self.bytes - old + size;
                self.items[i].1 = value.into_owned();
            }
            return;
        }
        if self.items.len() >= self.limits.max_items || self.bytes + size > self.limits.max_bytes {
            self.dropped += 1;
            return;
        }
        self.bytes += size;
        self.items.push((key.to_owned(), value.into_owned()));
    }
}

/// RFC 7230 `token`: what a header name (and a W3C baggage key) may be made of.
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Decodes `%XX` escapes (and `+` as a space, as Go's Jaeger client encodes it, where asked).
/// `None` when an escape is malformed or the bytes are not UTF-8.
pub(super) fn decode(s: &str, plus_is_space: bool) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || (plus_is_space && b == b'+')) {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Encodes a value so that it is a valid header value and W3C `baggage-octet`s: everything but
/// printable ASCII other than space, `"`, `,`, `;`, `\`, `%` and `+` is escaped (`+` because
/// Go's Jaeger client decodes it as a space).
pub(super) fn encode(s: &str) -> Cow<'_, str> {
    let keep =
        |b: u8| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\' | b'%' | b'+');
    if s.bytes().all(keep) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_the_encoding() {
        for value in [
            "plain",
            "with space",
            "a,b;c=d",
            "100%",
            "1+1",
            "ünïcödé",
            "\"q\"\\",
        ] {
            let encoded = encode(value);
            assert!(encoded.bytes().all(|b| b.is_ascii_graphic()), "{encoded}");
            assert_eq!(decode(&encoded, true).as_deref(), Some(value));
            assert_eq!(decode(&encoded, false).as_deref(), Some(value));
        }
        assert_eq!(decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(decode("%zz", false), None);
        assert_eq!(decode("%4", false), None);
        assert_eq!(decode("%ff", false), None, "not UTF-8");
    }

    #[test]
    fn limits_drop_and_count_items_past_them() {
        let limits = BaggageLimits {
            max_items: 2,
            max_bytes: 20,
            max_value_bytes: 8,
        };
        let mut b = Incoming::new(limits);
        b.add("a", "1", false);
        b.add("bad key", "1", false);
        b.add("b", "123456789", false); // value too long
        b.add("c", "12345678", false); // 9 bytes: fits (10 in all)
        b.add("d", "1", false); // a third item
        b.add("a", "%zz", false); // does not decode
        b.add("a", "12345678", false); // replaces a: 18 bytes in all
        assert_eq!(
            b.items,
            [
                ("a".into(), "12345678".into()),
                ("c".into(), "12345678".into())
            ]
        );
        assert_eq!(b.dropped, 4);
        b.add("c", "123456789", false);
        assert_eq!(b.dropped, 5);
    }
}
