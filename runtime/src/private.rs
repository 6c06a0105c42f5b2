//! What `#[traced]` expansions call, and nothing else calls. Not a public API: it may change in any
//! release, which is why generated code goes through this one module.
//!
//! The dispatch traits below use autoref specialization: the macro cannot see types, so it
//! writes one method call on `&&&Val(&value)` and the compiler picks the most specific impl
//! (an error type with `Display` over one with `Debug` over one with neither; a typed tag over
//! `Debug` text). Method lookup tries each receiver type by value, then with one `&` added,
//! then one `*` removed: with `&self` methods, the impls for `&&Val`, then `&&&Val`, then `&Val`,
//! then `Val`, which is the order of preference below.

use std::fmt;

use crate::context::Context;
pub use crate::instrument::Instrumented;
pub use crate::span::{Callsite, SpanGuard as Span};
use crate::tag::{IntoTagValue, TagValue};
pub use crate::tag::{StaticTag, StaticValue};

impl Span {
    /// Starts the span of a call under the current span.
    #[inline(always)]
    pub fn enter_call(&mut self, callsite: &'static Callsite) {
        self.start(callsite);
    }

    /// Starts the span of a call under an explicit `Context` argument.
    #[inline(always)]
    pub fn enter_call_with(&mut self, callsite: &'static Callsite, parent: &Context) {
        self.start_explicit(callsite, parent);
    }

    /// `true` when tags are kept: generated code evaluates computed tags only then.
    #[inline]
    pub fn recording(&self) -> bool {
        self.is_sampled()
    }

    /// Records a computed tag.
    pub fn tag(&self, key: &'static str, value: impl IntoTagValue) {
        self.set_tag(key, value);
    }

    /// Records a tag whose value the dispatch traits made (`args`, `ret`).
    pub fn tag_value(&self, key: &'static str, value: TagValue) {
        self.set_tag(key, value);
    }

    /// Records a tag from `Display` text (`%expr`).
    pub fn tag_display(&self, key: &'static str, value: &dyn fmt::Display) {
        self.set_tag(key, value.to_string());
    }

    /// Records a tag from `Debug` text (`?expr`, `ret`).
    pub fn tag_debug(&self, key: &'static str, value: &dyn fmt::Debug) {
        self.set_tag(key, format!("{value:?}"));
    }

    /// The context an explicit `Context` parameter is rebound to inside the body: this span's,
    /// or the argument itself when this call has no span of its own.
    #[must_use]
    pub fn rebind(&self, original: &Context) -> Context {
        if self.enters_scope() {
            self.context()
        } else {
            original.clone()
        }
    }

    /// Runs a sync body in this span's scope.
    #[inline]
    pub fn run<R, F: FnOnce() -> R>(&self, body: F) -> R {
        self.in_scope(body)
    }

    /// Wraps an async body, to be polled in this span's scope.
    #[inline]
    pub fn instrument<R, F: std::future::Future<Output = R>>(self, body: F) -> Instrumented<F> {
        Instrumented::new(body, self)
    }
}

/// The type of a parameter taken as the parent context: `Context` or `&Context`.
#[diagnostic::on_unimplemented(
    message = "`#[traced]` takes this parameter as the parent context, but `{Self}` is not `traced::Context`",
    label = "a parameter of a type named `Context` is the parent context",
    note = "if this is another crate's `Context`, write `#[traced(context = none)]`"
)]
pub trait AsParent {
    /// The context to start the span under.
    fn as_parent(&self) -> &Context;
}

impl AsParent for Context {
    fn as_parent(&self) -> &Context {
        self
    }
}

impl AsParent for &Context {
    fn as_parent(&self) -> &Context {
        self
    }
}

/// Rebinds an explicit context parameter to the span's context inside the body, keeping the
/// parameter's type: a `Context` becomes the new context, a `&Context` a reference to it held in
/// `slot`, a local of the body.
pub trait Rebind<'a> {
    /// The parameter's type, with the body's lifetime for a reference.
    type Out;
    /// Consumes the parameter; returns what the body sees under its name.
    fn __traced_rebind(self, new: Context, slot: &'a mut Option<Context>) -> Self::Out;
}

impl<'a> Rebind<'a> for Context {
    type Out = Context;
    #[inline]
    fn __traced_rebind(self, new: Context, _slot: &'a mut Option<Context>) -> Context {
        new
    }
}

impl<'a> Rebind<'a> for &Context {
    type Out = &'a Context;
    #[inline]
    fn __traced_rebind(self, new: Context, slot: &'a mut Option<Context>) -> &'a Context {
        slot.insert(new)
    }
}

/// A borrowed value handed to the dispatch traits.
pub struct Val<'a, T: ?Sized>(pub &'a T);

/// A function's return value: `Err` of an error with `Display` text.
pub trait ErrDisplay {
    fn __traced_record_err(&self, span: &Span);
}
impl<T, E: fmt::Display> ErrDisplay for &&Val<'_, Result<T, E>> {
    fn __traced_record_err(&self, span: &Span) {
        if let Err(error) = self.0 {
            span.record_error(std::any::type_name::<E>(), error);
        }
    }
}

/// `Err` of an error with only `Debug` text.
pub trait ErrDebug {
    fn __traced_record_err(&self, span: &Span);
}
impl<T, E: fmt::Debug> ErrDebug for &&&Val<'_, Result<T, E>> {
    fn __traced_record_err(&self, span: &Span) {
        if let Err(error) = self.0 {
            span.record_error(std::any::type_name::<E>(), &format_args!("{error:?}"));
        }
    }
}

/// `Err` of an error with no text at all: its type still says what failed.
pub trait ErrOpaque {
    fn __traced_record_err(&self, span: &Span);
}
impl<T, E> ErrOpaque for &Val<'_, Result<T, E>> {
    fn __traced_record_err(&self, span: &Span) {
        if self.0.is_err() {
            let kind = std::any::type_name::<E>();
            span.record_error(kind, &kind);
        }
    }
}

/// Anything but a `Result`: nothing to record.
pub trait NotResult {
    fn __traced_record_err(&self, span: &Span);
}
impl<T: ?Sized> NotResult for Val<'_, T> {
    #[inline]
    fn __traced_record_err(&self, _span: &Span) {}
}

/// An argument (`args`) or return value (`ret`) as a tag: typed when it is a tag value (numbers,
/// strings, booleans), else its `Debug` text, else its type name.
pub trait ValueTyped {
    fn __traced_tag_value(&self) -> TagValue;
}
impl<T: ?Sized> ValueTyped for &&Val<'_, T>
where
    for<'b> &'b T: IntoTagValue,
{
    fn __traced_tag_value(&self) -> TagValue {
        self.0.into_tag_value()
    }
}

/// `Debug` text.
pub trait ValueDebug {
    fn __traced_tag_value(&self) -> TagValue;
}
impl<T: fmt::Debug + ?Sized> ValueDebug for &&&Val<'_, T> {
    fn __traced_tag_value(&self) -> TagValue {
        TagValue::String(format!("{:?}", self.0).into())
    }
}

/// Neither: the type name, so the tag still says something true.
pub trait ValueOpaque {
    fn __traced_tag_value(&self) -> TagValue;
}
impl<T: ?Sized> ValueOpaque for &Val<'_, T> {
    fn __traced_tag_value(&self) -> TagValue {
        TagValue::String(format!("<{}>", std::any::type_name::<T>()).into())
    }
}

/// The dispatch traits, for `use ... as _` in generated code.
pub mod dispatch {
    pub use super::{ErrDebug as _, ErrDisplay as _, ErrOpaque as _, NotResult as _};
    pub use super::{ValueDebug as _, ValueOpaque as _, ValueTyped as _};
}
