//! An `async fn` (free, method, or in a trait): the body becomes an inner future polled with the
//! span current on every poll, so the span follows the task across `.await` and threads. The
//! span starts at the first poll, when the body starts; a future dropped before it records
//! nothing, one dropped after it and before completing is tagged `cancelled`.

use proc_macro2::{Group, TokenStream};
use quote::quote;

use crate::expand::{BodyType, Plan};

pub(crate) fn body(plan: &Plan, ty: &BodyType, block: &Group) -> TokenStream {
    let Plan { rebind, .. } = plan;
    let fix_output = plan.fix_output(ty);
    let inner = quote! {
        async move {
            #fix_output
            #rebind
            #block
        }
    };
    // The inner block yields what the function returns; when that is itself a future, clippy's
    // `async_yields_async` would blame the user for the wrapper (a native `async fn` body is
    // exempt). Lint levels can only be set on a statement holding the block, which holds the
    // user's body too, so the allow is there only for return types that may be futures.
    let allow = ty
        .may_be_future()
        .then(|| quote!(#[allow(clippy::async_yields_async)]));
    in_span(plan, ty, &allow.unwrap_or_default(), &inner)
}

/// The statements of an async body that runs `inner` with the span current and records its
/// output: shared with futures returned by sync functions (`returned_future`).
pub(crate) fn in_span(
    plan: &Plan,
    ty: &BodyType,
    attrs: &TokenStream,
    inner: &TokenStream,
) -> TokenStream {
    let Plan { span, result, .. } = plan;
    let start = plan.start();
    let finish = plan.finish(ty);
    let output = &ty.ty;
    let inner_future = syn::Ident::new("__traced_body", proc_macro2::Span::mixed_site());
    let future = syn::Ident::new("__traced_future", proc_macro2::Span::mixed_site());
    // The guard lives in a block that ends before the `.await`: a local still in scope at an
    // await point is kept in the future's state even after it was moved out, and the guard,
    // which is not `Sync`, would make every traced future `!Sync`.
    quote! {
        let #future = {
            #start
            #attrs
            let #inner_future = #inner;
            #span.instrument::<#output, _>(#inner_future)
        };
        let (#result, #span) = #future.await;
        #finish
        #result
    }
}
