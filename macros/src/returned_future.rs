//! A sync function whose value is an `async` block, as written (`-> impl Future { async move {
//! .. } }`) or boxed (`Box::pin(async move { .. })`, which is also what `#[async_trait]` makes of
//! an `async fn` when it expands first). The span covers the future, not the call that made it:
//! it starts at the first poll, exactly as for an `async fn`, so a future dropped before it
//! records nothing and one dropped after it is tagged `cancelled`, whichever attribute runs first.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{
    Block, Expr, ExprAsync, ExprCall, GenericArgument, Path, PathArguments, ReturnType, Stmt,
    Token, Type, TypeParamBound,
};

use crate::async_fn::in_span;
use crate::expand::{BodyType, Plan};

/// The new body, or `None` when the function's value is not an async block.
pub(crate) fn body(plan: &Plan, output: &ReturnType, block: &Block) -> Option<TokenStream> {
    let (last, before) = block.stmts.split_last()?;
    let Stmt::Expr(tail, None) = last else {
        return None;
    };
    let (wrap, future) = match tail {
        Expr::Async(future) => (None, future),
        Expr::Call(call) => (Some(&call.func), boxed_future(call)?),
        _ => return None,
    };
    let ty = BodyType::from_type(
        future_output(output).unwrap_or_else(|| syn::parse_quote!(_)),
        &plan.krate,
    );
    let ExprAsync {
        attrs,
        capture,
        block: user_block,
        ..
    } = future;
    let stmts = &user_block.stmts;
    let fix_output = plan.fix_output(&ty);
    let rebind = &plan.rebind;
    // The user's statements, attributes and capture mode stay as written; the outer block
    // takes the same capture mode, so that it borrows or moves what the user's did.
    let inner = quote! {
        #(#attrs)* async #capture {
            #fix_output
            #rebind
            #(#stmts)*
        }
    };
    let traced = in_span(plan, &ty, &TokenStream::new(), &inner);
    let outer = quote!(async #capture { #traced });
    let value = match wrap {
        Some(func) => quote!(#func(#outer)),
        None => outer,
    };
    Some(quote! {
        #(#before)*
        #value
    })
}

/// The `async` block in `Box::pin(async { .. })`.
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

/// The future's output as the signature states it: `Output = T` in `impl Future<..>` or
/// `dyn Future<..>` (boxed and pinned or not), or `T` in `BoxFuture<'a, T>`.
fn future_output(output: &ReturnType) -> Option<Type> {
    match output {
        ReturnType::Type(_, ty) => output_of(ty),
        ReturnType::Default => None,
    }
}

fn output_of(ty: &Type) -> Option<Type> {
    match ty {
        Type::ImplTrait(t) => bounds_output(&t.bounds),
        Type::TraitObject(t) => bounds_output(&t.bounds),
        Type::Paren(t) => output_of(&t.elem),
        Type::Group(t) => output_of(&t.elem),
        Type::Path(p) => {
            let last = p.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let mut types = args.args.iter().filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            });
            if last.ident == "BoxFuture" || last.ident == "LocalBoxFuture" {
                types.next().cloned()
            } else {
                // `Pin<Box<dyn Future<..>>>`: the future is inside.
                types.find_map(output_of)
            }
        }
        _ => None,
    }
}

fn bounds_output(bounds: &Punctuated<TypeParamBound, Token![+]>) -> Option<Type> {
    bounds.iter().find_map(|bound| match bound {
        TypeParamBound::Trait(t) => output_binding(&t.path),
        _ => None,
    })
}

/// `T` of `Future<Output = T>`.
fn output_binding(path: &Path) -> Option<Type> {
    let last = path.segments.last()?;
    if last.ident != "Future" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
        _ => None,
    })
}
