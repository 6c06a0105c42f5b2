//! `#[traced]` on an `impl` block (inherent or trait, `#[async_trait]` either side): every method
//! is traced as `Type::method`, a method's own `#[traced(...)]` overrides the block's settings
//! for it, and `#[traced(off)]` leaves it untraced.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, ImplItem, ItemImpl, Type};

use crate::args::{push, Args};
use crate::item::{function_tokens, Function};
use crate::tags::TagValue;

pub(crate) fn expand(args: &Args, mut block: ItemImpl) -> syn::Result<TokenStream> {
    if let Some(name) = &args.name {
        return Err(syn::Error::new(
            name.span(),
            "`name` on an impl block would give every method the same span name; put it on a method",
        ));
    }
    if let Some(off) = &args.off {
        return Err(syn::Error::new(
            off.span(),
            "`off` goes on a method, to leave it out of a traced impl block",
        ));
    }
    let type_name = type_name(&block.self_ty);
    let mut errors = None;
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let own = match take_own_args(&mut method.attrs) {
            Ok(own) => own,
            Err(error) => {
                push(&mut errors, error);
                continue;
            }
        };
        let block_args = if method.sig.receiver().is_some() {
            args.clone()
        } else {
            without_self_tags(args)
        };
        let settings = match &own {
            Some(own) => block_args.overridden_by(own),
            None => block_args,
        };
        if settings.off.is_some() || method.sig.constness.is_some() {
            continue;
        }
        let function = Function {
            attrs: std::mem::take(&mut method.attrs),
            vis: method.vis.clone(),
            sig: method.sig.clone(),
            body: syn::parse2(method.block.to_token_stream())?,
        };
        match function_tokens(&settings, function, type_name.as_deref()) {
            Ok(function) => *item = ImplItem::Verbatim(function.into_token_stream()),
            Err(error) => push(&mut errors, error),
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(block.into_token_stream()),
    }
}

/// The block's settings for a method without `self` (a constructor): the block's tags that read
/// `self` cannot apply to it, and leaving them out beats failing the whole block.
fn without_self_tags(args: &Args) -> Args {
    let mut args = args.clone();
    args.tags.retain(|tag| match &tag.value {
        TagValue::Static(_) => true,
        TagValue::Display(expr) | TagValue::Debug(expr) | TagValue::Computed(expr) => {
            !mentions_self(expr.to_token_stream())
        }
    });
    args
}

fn mentions_self(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "self",
        TokenTree::Group(group) => mentions_self(group.stream()),
        _ => false,
    })
}

/// Removes a method's own `#[traced(...)]` and returns its arguments.
fn take_own_args(attrs: &mut Vec<Attribute>) -> syn::Result<Option<Args>> {
    let Some(index) = attrs.iter().position(is_traced) else {
        return Ok(None);
    };
    let attr = attrs.remove(index);
    if let Some(again) = attrs.iter().find(|a| is_traced(a)) {
        return Err(syn::Error::new_spanned(
            again,
            "`#[traced]` is given twice on this method",
        ));
    }
    match &attr.meta {
        syn::Meta::Path(_) => Ok(Some(Args::default())),
        _ => attr.parse_args::<Args>().map(Some),
    }
}

fn is_traced(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "traced")
}

/// `Repo` for `impl Repo`, `impl<T> Repo<T>`, `impl Trait for crate::Repo`.
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => type_name(&r.elem),
        Type::Paren(p) => type_name(&p.elem),
        Type::Group(g) => type_name(&g.elem),
        _ => None,
    }
}
