//! A method already rewritten by `#[async_trait]` (when that attribute runs first): a sync fn
//! whose body ends in `Box::pin(async move { ... })`. The span starts when the method is called,
//! and the boxed future is instrumented like an `async fn` body.

use syn::{Block, Expr, ExprAsync, ExprCall, Stmt};

use crate::expand::Plan;

/// The new body, or `None` when this is not async-trait's shape.
pub(crate) fn body(plan: &Plan, block: &Block) -> Option<Block> {
    let (last, before) = block.stmts.split_last()?;
    let Stmt::Expr(Expr::Call(call), None) = last else {
        return None;
    };
    let inner = boxed_future(call)?;
    let Plan {
        start,
        rebind,
        finish,
        span,
        result,
        ..
    } = plan;
    let func = &call.func;
    let attrs = &inner.attrs;
    let capture = &inner.capture;
    let stmts = &inner.block.stmts;
    Some(syn::parse_quote! {{
        #(#before)*
        #start
        #func(async move {
            // async-trait fixed the future's output type inside its block; instrument it as is.
            let (#result, #span) = #span.instrument(#(#attrs)* async #capture {
                #rebind
                #(#stmts)*
            }).await;
            #finish
            #result
        })
    }})
}

/// The `async move` block in `Box::pin(async move { ... })`.
fn boxed_future(call: &ExprCall) -> Option<&ExprAsync> {
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let mut segments = func.path.segments.iter().rev();
    if segments.next()?.ident != "pin" || segments.next()?.ident != "Box" {
        return None;
    }
    match call.args.iter().collect::<Vec<_>>().as_slice() {
        [Expr::Async(inner)] => Some(inner),
        _ => None,
    }
}
