//! What the attribute sits on: a function (free, method, async, async-trait's boxed body) or an
//! impl block. Anything else is an error pointing at it.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Block, Item, ItemFn};

use crate::args::Args;
use crate::expand::{BodyType, Plan};
use crate::{async_fn, impl_block, returned_future, sync_fn};

pub(crate) fn expand(args: Args, item: TokenStream) -> syn::Result<TokenStream> {
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => {
            if let Some(off) = &args.off {
                return Err(syn::Error::new(
                    off.span(),
                    "`off` opts a method out of a traced impl block; on a function, remove `#[traced]` instead",
                ));
            }
            Ok(function_tokens(&args, function, None)?.into_token_stream())
        }
        Ok(Item::Impl(block)) => impl_block::expand(&args, block),
        // A method declared in a trait without a body.
        Ok(Item::Verbatim(tokens)) if syn::parse2::<syn::TraitItemFn>(tokens.clone()).is_ok() => {
            Err(syn::Error::new_spanned(
                tokens,
                "`#[traced]` needs a function body; put it on the method in the `impl` instead",
            ))
        }
        Ok(other) => Err(not_a_function(&other)),
        // A syntax error: the compiler reports it, once, at the user's tokens, when it parses
        // the item given back unchanged.
        Err(_) => Ok(item),
    }
}

/// Expands one function; `type_name` is the impl block's type, for the default span name.
pub(crate) fn function_tokens(
    args: &Args,
    mut function: ItemFn,
    type_name: Option<&str>,
) -> syn::Result<ItemFn> {
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new_spanned(
            constness,
            "`#[traced]` cannot trace a `const fn`: recording a span is not possible at compile time",
        ));
    }
    let plan = Plan::new(args, &function.sig, type_name)?;
    if let Some(ident) = &plan.mutable_context {
        crate::params::allow_unused_mut(&mut function.sig, ident);
    }
    let block = &function.block;
    let body = if function.sig.asyncness.is_some() {
        let ty = BodyType::of(&function.sig.output, &plan.krate);
        async_fn::body(&plan, &ty, block)
    } else if let Some(body) = returned_future::body(&plan, &function.sig.output, block) {
        body
    } else {
        let ty = BodyType::of(&function.sig.output, &plan.krate);
        let track_caller = function
            .attrs
            .iter()
            .any(|attr| attr.path().is_ident("track_caller"));
        sync_fn::body(&plan, &ty, block, track_caller)
    };
    // The user's braces keep their spans: lints such as `dead_code` look at the function's
    // span, which ends at the closing brace.
    let stmts = syn::parse::Parser::parse2(Block::parse_within, body)?;
    function.block = Box::new(Block {
        brace_token: function.block.brace_token,
        stmts,
    });
    Ok(function)
}

fn not_a_function(item: &Item) -> syn::Error {
    let message = "`#[traced]` goes on a `fn` or an `impl` block";
    match item {
        Item::Const(c) => syn::Error::new_spanned(c.const_token, message),
        Item::Struct(s) => syn::Error::new_spanned(s.struct_token, message),
        Item::Enum(e) => syn::Error::new_spanned(e.enum_token, message),
        Item::Trait(t) => syn::Error::new_spanned(
            t.trait_token,
            "`#[traced]` goes on a `fn` or an `impl` block; for a trait, put it on the `impl`",
        ),
        Item::Mod(m) => syn::Error::new_spanned(m.mod_token, message),
        Item::Static(s) => syn::Error::new_spanned(s.static_token, message),
        Item::Type(t) => syn::Error::new_spanned(t.type_token, message),
        Item::Use(u) => syn::Error::new_spanned(u.use_token, message),
        other => syn::Error::new_spanned(other, message),
    }
}
