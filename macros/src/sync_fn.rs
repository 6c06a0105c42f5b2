//! A sync function: the body runs with the span current, and its result is recorded before the
//! span finishes. The user's block stays whole, braces and all, so lints and errors that point
//! into it point where they did.

use proc_macro2::{Group, TokenStream};
use quote::quote;

use crate::expand::{BodyType, Plan};

/// The new function body; `track_caller` when the function is `#[track_caller]`.
pub(crate) fn body(plan: &Plan, ty: &BodyType, block: &Group, track_caller: bool) -> TokenStream {
    let finish = plan.finish(ty);
    if track_caller || finish.is_empty() {
        inline(plan, ty, block, &finish)
    } else {
        in_closure(plan, ty, block, &finish)
    }
}

/// The body in a closure: `return` and `?` leave the closure, not the function, so an `Err`
/// however it leaves is recorded. The closure's return type is the function's (deduced from
/// `run`'s bound), so returns coerce as the user wrote them.
fn in_closure(plan: &Plan, ty: &BodyType, block: &Group, finish: &TokenStream) -> TokenStream {
    let Plan {
        rebind,
        span,
        result,
        ..
    } = plan;
    let start = plan.start_sync();
    let output = &ty.ty;
    let body = if rebind.is_empty() {
        quote!(#block)
    } else {
        quote!({ #rebind #block })
    };
    quote! {
        #start
        let #result = #span.run::<#output, _>(move || #body);
        #finish
        #result
    }
}

/// The body where the user wrote it, after the span is made current: for `#[track_caller]`,
/// whose caller a closure would hide from `Location::caller()` and from panics in the body, and
/// for bodies with nothing to record (`()`, `!`, a type that is plainly not a `Result` and no
/// `ret`), which need no closure: a closure is three more functions to compile per traced
/// function (itself, its `FnOnce` shim, `run`). A value left by the tail is recorded; one left
/// by `return` or `?` leaves the function directly, unrecorded.
fn inline(plan: &Plan, ty: &BodyType, block: &Group, finish: &TokenStream) -> TokenStream {
    let Plan { rebind, result, .. } = plan;
    let start = plan.start_sync();
    let prelude = quote! {
        #start
        #rebind
    };
    if finish.is_empty() {
        // The block is the tail: its type is checked against the return type as written.
        return quote! { #prelude #block };
    }
    let output = &ty.ty;
    quote! {
        #prelude
        let #result: #output = #block;
        // Unreachable when the block diverges (`panic!`, `loop`): allowed here, on generated
        // statements only, so the user's own code is linted as before.
        #[allow(unreachable_code)]
        #finish
        #[allow(unreachable_code, clippy::needless_return)]
        return #result;
    }
}
