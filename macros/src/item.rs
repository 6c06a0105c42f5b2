//! What the attribute sits on: a function (free, method, async, async-trait's boxed body) or an
//! impl block. Anything else is an error pointing at it.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Block, Item, Signature, Visibility};

use crate::args::Args;
use crate::expand::{BodyType, Plan};
use crate::{async_fn, impl_block, returned_future, sync_fn};

/// A function whose body is kept as the user's tokens, unparsed: parsing and printing a body
/// the expansion only wraps was most of the macro's own time (measured with
/// `benches/compile_time`), and the compiler parses it anyway. It is parsed only when it may
/// end in a future to trace (`returned_future`).
pub(crate) struct Function {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// `{ .. }`, as written.
    pub(crate) body: Group,
}

impl Parse for Function {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body: Group = input.parse()?;
        if body.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected a function body"));
        }
        Ok(Function {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

impl ToTokens for Function {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.attrs.iter().map(ToTokens::to_token_stream));
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}

pub(crate) fn expand(args: Args, item: TokenStream) -> syn::Result<TokenStream> {
    if let Ok(function) = syn::parse2::<Function>(item.clone()) {
        if let Some(off) = &args.off {
            return Err(syn::Error::new(
                off.span(),
                "`off` opts a method out of a traced impl block; on a function, remove `#[traced]` instead",
            ));
        }
        return Ok(function_tokens(&args, function, None)?.into_token_stream());
    }
    match syn::parse2::<Item>(item.clone()) {
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
    mut function: Function,
    type_name: Option<&str>,
) -> syn::Result<Function> {
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
    let block = &function.body;
    let placed = placed(block);
    let returned = (function.sig.asyncness.is_none() && ends_in_async(block))
        .then(|| syn::parse2::<Block>(block.to_token_stream()).ok())
        .flatten()
        .and_then(|parsed| returned_future::body(&plan, &function.sig.output, &parsed));
    let body = if function.sig.asyncness.is_some() {
        let ty = BodyType::of(&function.sig.output, &plan.krate);
        async_fn::body(&plan, &ty, &placed)
    } else if let Some(body) = returned {
        body
    } else {
        let ty = BodyType::of(&function.sig.output, &plan.krate);
        let track_caller = function
            .attrs
            .iter()
            .any(|attr| attr.path().is_ident("track_caller"));
        sync_fn::body(&plan, &ty, &placed, track_caller)
    };
    // The user's braces keep their spans: lints such as `dead_code` look at the function's
    // span, which ends at the closing brace.
    let mut new_body = Group::new(Delimiter::Brace, quote!(#body));
    new_body.set_span(function.body.span());
    function.body = new_body;
    Ok(function)
}

/// The user's block as the expansion places it: inside a block of the expansion's, as its tail
/// or a `let`'s value, where rustc's `unused_braces` looks at braces around a lone expression.
/// A body that is one expression (no `;` at its top level) gets braces that keep their line and
/// column but resolve at the macro's site, so that rustc sees them as the expansion's and leaves
/// them be: with the user's own spans, a one-line body (`fn add(a: u64, b: u64) -> u64 { a + b
/// }`) got "unnecessary braces around block return value", an error under
/// `#![deny(warnings)]`, which the same function without `#[traced]` does not get. Other bodies
/// keep their braces as written: an error about the whole block (a value missing after a last
/// `;`) then reads as it does without `#[traced]`, with no note about the macro. What is inside
/// keeps its spans either way, so it is linted as before.
fn placed(block: &Group) -> Group {
    let stream = block.stream();
    let lone_expression = !stream.is_empty()
        && !stream
            .into_iter()
            .any(|token| matches!(&token, TokenTree::Punct(p) if p.as_char() == ';'));
    if !lone_expression {
        return block.clone();
    }
    let mut placed = Group::new(Delimiter::Brace, block.stream());
    placed.set_span(block.span().resolved_at(Span::mixed_site()));
    placed
}

/// `true` when the body's last statement starts like an `async` block or `Box::pin(async ..)`:
/// a look at the tokens, so that only such bodies are parsed.
fn ends_in_async(body: &Group) -> bool {
    let mut tail: Vec<TokenTree> = Vec::new();
    for token in body.stream() {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ';' => tail.clear(),
            _ => tail.push(token),
        }
    }
    let starts = |tokens: &[TokenTree]| match tokens.first() {
        Some(TokenTree::Ident(ident)) => ident == "async",
        _ => false,
    };
    if starts(&tail) {
        return true;
    }
    // `Box::pin(async ..)`, with any path to `Box`.
    tail.windows(2).any(|pair| match pair {
        [TokenTree::Ident(pin), TokenTree::Group(args)] => {
            pin == "pin"
                && args.delimiter() == Delimiter::Parenthesis
                && starts(&args.stream().into_iter().collect::<Vec<_>>())
        }
        _ => false,
    })
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
