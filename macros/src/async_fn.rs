//! An `async fn` (free, method, or in a trait): the body becomes an inner future polled inside
//! the span's scope on every poll, so the span follows the task across `.await` and threads, and
//! is tagged `cancelled` if the future is dropped before it completes.

use syn::Block;

use crate::expand::Plan;

pub(crate) fn body(plan: &Plan, block: &Block) -> Block {
    let Plan {
        start,
        rebind,
        output,
        finish,
        span,
        result,
        ..
    } = plan;
    let stmts = &block.stmts;
    syn::parse_quote! {{
        #start
        // The inner block gives `return` and `?` a target inside the span; its output type is
        // the function's, so both infer as the user wrote them.
        let (#result, #span) = #span.instrument::<#output, _>(async move {
            #rebind
            #(#stmts)*
        }).await;
        #finish
        #result
    }}
}
