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
use crate::local::current;
pub use crate::local::guard::{Callsite, SpanGuard};
pub use crate::local::instrument::Instrumented;
use crate::local::queue;
pub use crate::local::sync_span::SyncSpan;
use crate::tag::{IntoTagValue, TagValue};
pub use crate::tag::{StaticTag, StaticValue};

/// The never type, `!`, by a name generated code can write where the language does not yet
/// take `!` itself (a type argument, a `let`'s type): the output of `fn() -> !`.
pub type Never = <fn() -> ! as FnOutput>::Output;

/// What a function pointer type returns; the way to name [`Never`].
pub trait FnOutput {
    /// The return type.
    type Output;
}

impl<O> FnOutput for fn() -> O {
    type Output = O;
}

// What generated code calls is either a test of a byte or two, inlined, or one call out of line,
// compiled once here: in a release build, inlining the span's start, its tags and the scope's
// entry into every traced function was most of the codegen time of a traced crate
// (`benches/compile_time`, the 600-function library's release rebuild 4.66 -> 3.25 s at 9f2ccd4,
// one run). The paths that start nothing end at the inline tests (`start_call`).
impl SpanGuard {
    /// Starts the span of a call under the current span (or a new root).
    ///
    /// Inline, the two tests that end most calls that start nothing (no tracer; inside an
    /// unsampled trace): two loads, where a call cost 1.1 to 1.4 ns more (`call_overhead`).
    #[inline]
    pub fn start_call(&mut self, callsite: &'static Callsite) {
        if queue::get().is_some() && current::starts_spans() {
            self.start_call_out_of_line(callsite);
        }
    }

    #[inline(never)]
    fn start_call_out_of_line(&mut self, callsite: &'static Callsite) {
        self.start(callsite);
    }

    /// Starts the span of a call under an explicit `Context` argument.
    #[inline(never)]
    pub fn start_call_under(&mut self, callsite: &'static Callsite, parent: &Context) {
        self.start_explicit(callsite, parent);
    }

    /// `true` when tags are kept: generated code evaluates computed tags only then.
    #[inline]
    pub fn recording(&self) -> bool {
        self.is_sampled()
    }

    /// Records a computed tag. Generic only in the conversion: the recording is one call.
    #[inline]
    pub fn tag(&self, key: &'static str, value: impl IntoTagValue) {
        self.tag_value(key, value.into_tag_value());
    }

    /// Records a tag whose value the dispatch traits made (`args`, `ret`).
    #[inline(never)]
    pub fn tag_value(&self, key: &'static str, value: TagValue) {
        self.set_tag(key, value);
    }

    /// Records a tag from `Display` text (`%expr`).
    #[inline(never)]
    pub fn tag_display(&self, key: &'static str, value: &dyn fmt::Display) {
        self.set_tag(key, value.to_string());
    }

    /// Records a tag from `Debug` text (`?expr`, `ret`).
    #[inline(never)]
    pub fn tag_debug(&self, key: &'static str, value: &dyn fmt::Debug) {
        self.set_tag(key, format!("{value:?}"));
    }

    /// Marks the span failed by an `Err` of type `kind` (the dispatch traits' `Err` arms).
    #[inline(never)]
    fn failed(&self, kind: &'static str, error: &dyn fmt::Display) {
        self.record_error(kind, error);
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

    /// Wraps an async body, to be polled with this span current.
    #[inline]
    pub fn instrument<R, F: std::future::Future<Output = R>>(self, body: F) -> Instrumented<F> {
        Instrumented::new(body, self)
    }
}

/// The type of a parameter taken as the parent context: `Context` or `&Context`.
///
/// One trait for both uses (the parent when the span starts, and the rebinding inside the body),
/// so a parameter of another crate's `Context` type is one error, not one per use.
#[diagnostic::on_unimplemented(
    message = "`#[traced]` takes this parameter as the parent context, but `{Self}` is not `traced::Context`",
    label = "a parameter of a type named `Context` is the parent context",
    note = "if this is another crate's `Context`, write `#[traced(context = none)]`"
)]
pub trait ContextParam<'a> {
    /// The parameter's type, with the body's lifetime for a reference.
    type Rebound;
    /// The context to start the span under.
    fn parent(&self) -> &Context;
    /// Consumes the parameter; returns what the body sees under its name: the span's context,
    /// by value or as a reference held in `slot`, a local of the body.
    fn rebind(self, new: Context, slot: &'a mut Option<Context>) -> Self::Rebound;
}

impl<'a> ContextParam<'a> for Context {
    type Rebound = Context;
    #[inline]
    fn parent(&self) -> &Context {
        self
    }
    #[inline]
    fn rebind(self, new: Context, _slot: &'a mut Option<Context>) -> Context {
        new
    }
}

impl<'a> ContextParam<'a> for &Context {
    type Rebound = &'a Context;
    #[inline]
    fn parent(&self) -> &Context {
        self
    }
    #[inline]
    fn rebind(self, new: Context, slot: &'a mut Option<Context>) -> &'a Context {
        slot.insert(new)
    }
}

/// A borrowed value handed to the dispatch traits.
#[allow(missing_debug_implementations)] // a type for method lookup, never shown
pub struct Val<'a, T: ?Sized>(pub &'a T);

/// A function's return value: `Err` of an error with `Display` text.
pub trait ErrDisplay {
    fn __traced_record_err(&self, span: &SpanGuard);
}
impl<T, E: fmt::Display> ErrDisplay for &&Val<'_, Result<T, E>> {
    fn __traced_record_err(&self, span: &SpanGuard) {
        if let Err(error) = self.0 {
            span.failed(std::any::type_name::<E>(), error);
        }
    }
}

/// `Err` of an error with only `Debug` text.
pub trait ErrDebug {
    fn __traced_record_err(&self, span: &SpanGuard);
}
impl<T, E: fmt::Debug> ErrDebug for &&&Val<'_, Result<T, E>> {
    fn __traced_record_err(&self, span: &SpanGuard) {
        if let Err(error) = self.0 {
            span.failed(std::any::type_name::<E>(), &format_args!("{error:?}"));
        }
    }
}

/// `Err` of an error with no text at all: its type still says what failed.
pub trait ErrOpaque {
    fn __traced_record_err(&self, span: &SpanGuard);
}
impl<T, E> ErrOpaque for &Val<'_, Result<T, E>> {
    fn __traced_record_err(&self, span: &SpanGuard) {
        if self.0.is_err() {
            let kind = std::any::type_name::<E>();
            span.failed(kind, &kind);
        }
    }
}

/// Anything but a `Result`: nothing to record.
pub trait NotResult {
    fn __traced_record_err(&self, span: &SpanGuard);
}
impl<T: ?Sized> NotResult for Val<'_, T> {
    #[inline]
    fn __traced_record_err(&self, _span: &SpanGuard) {}
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
