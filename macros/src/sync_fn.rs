//! A sync function: the body runs in a closure inside the span's scope, so every way out of it
//! (`return`, `?`, the tail, a panic) comes back through the one place that finishes the span.

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
        // The closure gives `return` and `?` a target inside the span; its return type is the
        // function's, so both infer as the user wrote them.
        let #result = #span.run::<#output, _>(move || {
            #rebind
            #(#stmts)*
        });
        #finish
        #result
    }}
}
