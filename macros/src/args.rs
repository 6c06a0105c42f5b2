//! The attribute's arguments: `#[traced(name = "...", tags(...), kind = server, follows_from,
//! args, skip(a, b), ret, context = cx, crate = path, off)]`, parsed into `Args`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parenthesized, Ident, LitStr, Path, Token};

use crate::tags::TagArg;

const ARGUMENTS: &str = "name, tags, kind, follows_from, args, skip, ret, context, crate, off";

/// The OpenTracing `span.kind` values.
const KINDS: [&str; 4] = ["server", "client", "producer", "consumer"];

/// Which parameter, if any, is the parent context.
#[derive(Clone)]
pub(crate) enum ContextArg {
    /// `context = cx`
    Param(Ident),
    /// `context = none`: no parameter is, whatever its type is named.
    None,
}

/// The parsed attribute. Each option keeps the token that set it, for error spans.
#[derive(Clone, Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) tags: Vec<TagArg>,
    pub(crate) kind: Option<(Ident, &'static str)>,
    pub(crate) follows_from: Option<Ident>,
    pub(crate) args: Option<Ident>,
    pub(crate) skip: Option<(Ident, Vec<Ident>)>,
    pub(crate) ret: Option<Ident>,
    pub(crate) context: Option<(Ident, ContextArg)>,
    pub(crate) krate: Option<Path>,
    pub(crate) off: Option<Ident>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors: Option<syn::Error> = None;
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let key = Ident::parse_any(input)?;
            let name = key.to_string();
            if seen.contains(&name) {
                push(
                    &mut errors,
                    syn::Error::new(key.span(), format!("duplicate argument `{name}`")),
                );
            }
            seen.push(name.clone());
            match name.as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "expected a string literal: `name = \"GetAllImages\"`",
                        )
                    })?;
                    if lit.value().trim().is_empty() {
                        push(
                            &mut errors,
                            syn::Error::new(lit.span(), "the span name must not be empty"),
                        );
                    }
                    args.name = Some(lit);
                }
                "tags" => {
                    let content;
                    parenthesized!(content in input);
                    let tags = Punctuated::<TagArg, Token![,]>::parse_terminated(&content)?;
                    for tag in tags {
                        if args.tags.iter().any(|t| t.key == tag.key) {
                            push(
                                &mut errors,
                                syn::Error::new(
                                    tag.key_span,
                                    format!("the tag `{}` is set twice", tag.key),
                                ),
                            );
                        }
                        args.tags.push(tag);
                    }
                }
                "kind" => {
                    input.parse::<Token![=]>()?;
                    let value = Ident::parse_any(input)?;
                    match KINDS.iter().find(|k| value == **k) {
                        Some(kind) => args.kind = Some((key, kind)),
                        None => push(
                            &mut errors,
                            syn::Error::new(value.span(), format!("unknown span kind `{value}`; expected one of: server, client, producer, consumer")),
                        ),
                    }
                }
                "follows_from" => args.follows_from = Some(key),
                "args" => args.args = Some(key),
                "ret" => args.ret = Some(key),
                "off" => args.off = Some(key),
                "skip" => {
                    let content;
                    parenthesized!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                        &content,
                        Ident::parse_any,
                    )?;
                    args.skip = Some((key, names.into_iter().collect()));
                }
                "context" => {
                    input.parse::<Token![=]>()?;
                    let value = Ident::parse_any(input)?;
                    let context = if value == "none" {
                        ContextArg::None
                    } else {
                        ContextArg::Param(value)
                    };
                    args.context = Some((key, context));
                }
                "crate" => {
                    input.parse::<Token![=]>()?;
                    args.krate = Some(input.call(Path::parse_mod_style)?);
                }
                _ => {
                    push(
                        &mut errors,
                        syn::Error::new(
                            key.span(),
                            format!("unknown argument `{name}`; expected one of: {ARGUMENTS}"),
                        ),
                    );
                    // Skip the rest of this argument, to report later ones too.
                    while !input.is_empty() && !input.peek(Token![,]) {
                        input.parse::<proc_macro2::TokenTree>()?;
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if let Some((skip, _)) = &args.skip {
            if args.args.is_none() {
                push(&mut errors, syn::Error::new(skip.span(), "`skip` leaves arguments out of `args`, which is not set; write `args, skip(...)`"));
            }
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(args),
        }
    }
}

pub(crate) fn push(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(errors) => errors.combine(error),
        None => *errors = Some(error),
    }
}

impl Args {
    /// The settings for a method of a traced impl block: the block's, with the method's own
    /// attribute overriding them one by one (tags by key).
    pub(crate) fn overridden_by(&self, method: &Args) -> Args {
        let mut tags: Vec<TagArg> = self
            .tags
            .iter()
            .filter(|t| !method.tags.iter().any(|m| m.key == t.key))
            .cloned()
            .collect();
        tags.extend(method.tags.iter().cloned());
        Args {
            name: method.name.clone().or_else(|| self.name.clone()),
            tags,
            kind: method.kind.clone().or_else(|| self.kind.clone()),
            follows_from: method
                .follows_from
                .clone()
                .or_else(|| self.follows_from.clone()),
            args: method.args.clone().or_else(|| self.args.clone()),
            skip: method.skip.clone().or_else(|| self.skip.clone()),
            ret: method.ret.clone().or_else(|| self.ret.clone()),
            context: method.context.clone().or_else(|| self.context.clone()),
            krate: method.krate.clone().or_else(|| self.krate.clone()),
            off: method.off.clone().or_else(|| self.off.clone()),
        }
    }

    /// The path of the runtime crate in generated code.
    pub(crate) fn krate(&self) -> Path {
        self.krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote_spanned!(Span::call_site()=> ::traced))
    }
}
