//! Tags: what a span's tags may hold, and the conversion from Rust values.

use std::borrow::Cow;

/// A tag's value: a string, a boolean, an integer or a float, the kinds Jaeger stores.
///
/// ```
/// use traced::TagValue;
///
/// assert_eq!(TagValue::from("mongo"), TagValue::String("mongo".into()));
/// assert_eq!(TagValue::from(3i64), TagValue::Integer(3));
/// ```
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum TagValue {
    /// Text.
    String(Cow<'static, str>),
    /// A boolean.
    Boolean(bool),
    /// A signed 64-bit integer (Jaeger's `long`).
    Integer(i64),
    /// A 64-bit float (Jaeger's `double`).
    Float(f64),
}

impl From<&'static str> for TagValue {
    fn from(value: &'static str) -> Self {
        TagValue::String(Cow::Borrowed(value))
    }
}

impl From<String> for TagValue {
    fn from(value: String) -> Self {
        TagValue::String(Cow::Owned(value))
    }
}

impl From<Cow<'static, str>> for TagValue {
    fn from(value: Cow<'static, str>) -> Self {
        TagValue::String(value)
    }
}

impl From<bool> for TagValue {
    fn from(value: bool) -> Self {
        TagValue::Boolean(value)
    }
}

impl From<i64> for TagValue {
    fn from(value: i64) -> Self {
        TagValue::Integer(value)
    }
}

impl From<f64> for TagValue {
    fn from(value: f64) -> Self {
        TagValue::Float(value)
    }
}

/// A tag set at run time: a key and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tag {
    key: Cow<'static, str>,
    value: TagValue,
}

impl Tag {
    pub(crate) fn new(key: impl Into<Cow<'static, str>>, value: impl Into<TagValue>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.key
    }

    pub(crate) fn value(&self) -> &TagValue {
        &self.value
    }
}

/// A tag value borrowed from wherever a span keeps it, for the encoders: no copy of its text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum TagRef<'a> {
    Str(&'a str),
    F64(f64),
    Bool(bool),
    I64(i64),
}

impl<'a> From<&'a TagValue> for TagRef<'a> {
    fn from(value: &'a TagValue) -> Self {
        match value {
            TagValue::String(s) => TagRef::Str(s),
            TagValue::Boolean(b) => TagRef::Bool(*b),
            TagValue::Integer(i) => TagRef::I64(*i),
            TagValue::Float(f) => TagRef::F64(*f),
        }
    }
}

impl From<StaticValue> for TagRef<'static> {
    fn from(value: StaticValue) -> Self {
        match value {
            StaticValue::Str(s) => TagRef::Str(s),
            StaticValue::Bool(b) => TagRef::Bool(b),
            StaticValue::I64(i) => TagRef::I64(i),
            StaticValue::F64(f) => TagRef::F64(f),
        }
    }
}

impl TagRef<'_> {
    /// An owned value, for readers that want one ([`crate::SpanRecord::tags`]).
    pub(crate) fn to_tag_value(self) -> TagValue {
        match self {
            TagRef::Str(s) => TagValue::String(Cow::Owned(s.to_owned())),
            TagRef::Bool(b) => TagValue::Boolean(b),
            TagRef::I64(i) => TagValue::Integer(i),
            TagRef::F64(f) => TagValue::Float(f),
        }
    }
}

/// A tag set at run time whose key is known at compile time (a computed `#[traced]` tag, a
/// `tracing` field), as a span record holds it in place: no allocation for the tag, nor for a
/// string value of up to [`ShortStr::CAPACITY`] bytes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct InlineTag {
    key: &'static str,
    value: InlineValue,
}

/// [`TagValue`], with a variant for short text kept in place.
#[derive(Clone, Debug, PartialEq)]
enum InlineValue {
    String(Cow<'static, str>),
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))] // made for `tracing` fields only
    Short(ShortStr),
    Boolean(bool),
    Integer(i64),
    Float(f64),
}

/// Text of up to [`ShortStr::CAPACITY`] bytes, kept in place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ShortStr {
    len: u8,
    bytes: [u8; ShortStr::CAPACITY],
}

impl ShortStr {
    /// 15 bytes, so that `InlineValue` stays the size of a `TagValue` (24 bytes): the short
    /// text fits beside the niche the compiler finds in the `String` variant's capacity.
    pub(crate) const CAPACITY: usize = 15;

    /// `text` kept in place, when it fits.
    ///
    /// Read into a register in at most two loads that may overlap, as `memcpy` does for short
    /// sizes, where copying into the array called `memcpy` and the copy of the result into the
    /// record then read its bytes back at once with wider loads than its stores, a
    /// store-forwarding stall (`perf`, 2026-12-03: half of a bridged span's `set_text_tag`).
    #[cfg(feature = "tracing")]
    pub(crate) fn new(text: &str) -> Option<ShortStr> {
        let b = text.as_bytes();
        let n = b.len();
        let len = u8::try_from(n)
            .ok()
            .filter(|&n| usize::from(n) <= Self::CAPACITY)?;
        let word = match n {
            8.. => overlapping::<8>(b, u64::from_le_bytes),
            4.. => overlapping::<4>(b, |w| u64::from(u32::from_le_bytes(w))),
            _ => b
                .iter()
                .enumerate()
                .fold(0, |word, (i, &byte)| word | u128::from(byte) << (i * 8)),
        };
        let mut bytes = [0; Self::CAPACITY];
        bytes.copy_from_slice(&word.to_le_bytes()[..Self::CAPACITY]);
        Some(ShortStr { len, bytes })
    }

    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: the bytes up to `len` were copied from a `&str` whole.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[..usize::from(self.len)]) }
    }
}

/// `b`, `W` to `2 * W` bytes long, as a little-endian number, read in two loads of `W` bytes:
/// the first at the start, the second ending at the end. The bytes both read are the same, so
/// or-ing the two is the text.
#[cfg(feature = "tracing")]
#[inline(always)]
fn overlapping<const W: usize>(b: &[u8], word: fn([u8; W]) -> u64) -> u128 {
    let read = |chunk: Option<&[u8; W]>| u128::from(word(chunk.map_or([0; W], |c| *c)));
    read(b.first_chunk::<W>()) | read(b.last_chunk::<W>()) << ((b.len() - W) * 8)
}

impl InlineTag {
    pub(crate) fn new(key: &'static str, value: TagValue) -> Self {
        let value = match value {
            TagValue::String(s) => InlineValue::String(s),
            TagValue::Boolean(b) => InlineValue::Boolean(b),
            TagValue::Integer(i) => InlineValue::Integer(i),
            TagValue::Float(f) => InlineValue::Float(f),
        };
        InlineTag { key, value }
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn short(key: &'static str, text: ShortStr) -> Self {
        InlineTag {
            key,
            value: InlineValue::Short(text),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        self.key
    }

    pub(crate) fn value(&self) -> TagRef<'_> {
        match &self.value {
            InlineValue::String(s) => TagRef::Str(s),
            InlineValue::Short(s) => TagRef::Str(s.as_str()),
            InlineValue::Boolean(b) => TagRef::Bool(*b),
            InlineValue::Integer(i) => TagRef::I64(*i),
            InlineValue::Float(f) => TagRef::F64(*f),
        }
    }
}

// The record holds its inline tags in every sampled span it moves: 40 bytes each, as a
// `(&'static str, TagValue)` would take.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Option<InlineTag>>() == 40);

/// One field of a log: a key and its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogField {
    key: Cow<'static, str>,
    value: Cow<'static, str>,
}

impl LogField {
    pub(crate) fn new(
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        LogField {
            key: key.into(),
            value: value.into(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.key
    }

    pub(crate) fn value(&self) -> &str {
        &self.value
    }
}

/// A value that can be a tag: strings, booleans, integers and floats, as Jaeger stores them.
///
/// Implemented for the primitive types, `String`, `&str`, `Cow<'static, str>` and [`TagValue`],
/// and for references to them at any depth.
/// Other types are recorded through their `Display` (`%expr` in `#[traced(tags(...))]`) or
/// `Debug` (`?expr`) text.
///
/// ```
/// use traced::{IntoTagValue, TagValue};
///
/// assert_eq!(42u16.into_tag_value(), TagValue::Integer(42));
/// assert_eq!(true.into_tag_value(), TagValue::Boolean(true));
/// assert_eq!(u64::MAX.into_tag_value(), TagValue::String("18446744073709551615".into()));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tag value",
    label = "not a string, bool, integer or float",
    note = "write `%value` to record its `Display` text, or `?value` for its `Debug` text"
)]
pub trait IntoTagValue {
    /// Converts to a tag value.
    fn into_tag_value(self) -> TagValue;
}

impl IntoTagValue for TagValue {
    fn into_tag_value(self) -> TagValue {
        self
    }
}

impl IntoTagValue for bool {
    fn into_tag_value(self) -> TagValue {
        TagValue::Boolean(self)
    }
}

macro_rules! lossless_integers {
    ($($t:ty),*) => {$(
        impl IntoTagValue for $t {
            fn into_tag_value(self) -> TagValue {
                TagValue::Integer(i64::from(self))
            }
        }
    )*};
}
lossless_integers!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! wide_integers {
    ($($t:ty),*) => {$(
        /// Jaeger integers are `i64`: a value beyond that range is kept exactly, as text.
        impl IntoTagValue for $t {
            fn into_tag_value(self) -> TagValue {
                match i64::try_from(self) {
                    Ok(v) => TagValue::Integer(v),
                    Err(_) => TagValue::String(Cow::Owned(self.to_string())),
                }
            }
        }
    )*};
}
wide_integers!(u64, usize, isize, i128, u128);

impl IntoTagValue for f64 {
    fn into_tag_value(self) -> TagValue {
        TagValue::Float(self)
    }
}

impl IntoTagValue for f32 {
    fn into_tag_value(self) -> TagValue {
        TagValue::Float(f64::from(self))
    }
}

impl IntoTagValue for String {
    fn into_tag_value(self) -> TagValue {
        TagValue::String(Cow::Owned(self))
    }
}

impl IntoTagValue for &String {
    fn into_tag_value(self) -> TagValue {
        TagValue::String(Cow::Owned(self.clone()))
    }
}

impl IntoTagValue for &str {
    fn into_tag_value(self) -> TagValue {
        TagValue::String(Cow::Owned(self.to_owned()))
    }
}

/// A reference to anything that is a tag by reference: `&&str`, `&&String`, `&&u32`, at any
/// depth, so `tags(s = &s)` works as `tags(s = s)` does.
impl<T: ?Sized> IntoTagValue for &&T
where
    for<'a> &'a T: IntoTagValue,
{
    fn into_tag_value(self) -> TagValue {
        (*self).into_tag_value()
    }
}

impl IntoTagValue for Cow<'static, str> {
    fn into_tag_value(self) -> TagValue {
        TagValue::String(self)
    }
}

impl IntoTagValue for char {
    fn into_tag_value(self) -> TagValue {
        TagValue::String(Cow::Owned(self.to_string()))
    }
}

macro_rules! by_reference {
    ($($t:ty),*) => {$(
        impl IntoTagValue for &$t {
            fn into_tag_value(self) -> TagValue {
                (*self).into_tag_value()
            }
        }
    )*};
}
by_reference!(bool, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, i128, u128, f32, f64, char);

impl IntoTagValue for &Cow<'static, str> {
    fn into_tag_value(self) -> TagValue {
        TagValue::String(self.clone())
    }
}

/// A tag value known when the program is compiled; lives in a `static` call site, so recording
/// it costs nothing per call.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StaticValue {
    Str(&'static str),
    Bool(bool),
    I64(i64),
    F64(f64),
}

impl StaticValue {
    pub(crate) fn to_tag_value(self) -> TagValue {
        match self {
            StaticValue::Str(s) => TagValue::String(Cow::Borrowed(s)),
            StaticValue::Bool(b) => TagValue::Boolean(b),
            StaticValue::I64(i) => TagValue::Integer(i),
            StaticValue::F64(f) => TagValue::Float(f),
        }
    }
}

/// A tag whose key and value are both known at compile time.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticTag {
    pub key: &'static str,
    pub value: StaticValue,
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use super::ShortStr;

    #[test]
    fn text_of_every_length_up_to_the_capacity_is_kept_whole() {
        let text = "abcdefghijklmnopq";
        for n in 0..=ShortStr::CAPACITY {
            let short = ShortStr::new(&text[..n]).expect("fits");
            assert_eq!(short.as_str(), &text[..n]);
        }
        assert!(ShortStr::new(&text[..=ShortStr::CAPACITY]).is_none());
        let multibyte = "é€😀";
        assert_eq!(
            ShortStr::new(multibyte).map(|s| s.as_str().to_owned()),
            Some(multibyte.to_owned())
        );
    }
}
