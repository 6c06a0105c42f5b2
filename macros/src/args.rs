//! The attribute's arguments: `#[traced(name = "...", tags(...), kind = server, follows_from,
//! args, skip(a, b), ret, context = cx, crate = path, off)]`, parsed into `Args`.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseBuffer, ParseStream, Parser};
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
        // Each argument is parsed alone, up to the next top-level comma, so that a mistake in one
        // does not hide the mistakes in the ones after it: the user sees them all at once.
        for argument in split_arguments(input.parse()?) {
            let parsed = (|input: ParseStream| args.parse_argument(input, &mut seen, &mut errors))
                .parse2(argument);
            if let Err(error) = parsed {
                push(&mut errors, error);
            }
        }
        if let Some((skip, names)) = &args.skip {
            if args.args.is_none() && names.iter().any(|name| name != "self") {
                push(&mut errors, syn::Error::new(skip.span(), "`skip` leaves arguments out of `args`, which is not set; write `args, skip(...)`"));
            }
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(args),
        }
    }
}

/// The attribute's tokens cut at top-level commas (commas inside `tags(..)` are in a group).
fn split_arguments(tokens: TokenStream) -> Vec<TokenStream> {
    let mut arguments = vec![TokenStream::new()];
    for token in tokens {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => arguments.push(TokenStream::new()),
            _ => arguments.last_mut().expect("never empty").extend([token]),
        }
    }
    // A trailing comma leaves an empty last argument.
    if arguments.last().is_some_and(TokenStream::is_empty) {
        arguments.pop();
    }
    arguments
}

impl Args {
    /// Parses one argument into `self`. Mistakes in its value go to `errors`; an `Err` is one
    /// that leaves nothing of the argument to keep.
    fn parse_argument(
        &mut self,
        input: ParseStream,
        seen: &mut Vec<String>,
        errors: &mut Option<syn::Error>,
    ) -> syn::Result<()> {
        let key = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected an argument, one of: {ARGUMENTS}"),
            )
        })?;
        let name = key.unraw().to_string();
        if seen.contains(&name) {
            push(
                errors,
                syn::Error::new(key.span(), format!("duplicate argument `{name}`")),
            );
        }
        seen.push(name.clone());
        match name.as_str() {
            "name" => {
                value_after(
                    input,
                    &key,
                    "`name` takes a string: `name = \"GetAllImages\"`",
                )?;
                let lit: LitStr = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected a string literal: `name = \"GetAllImages\"`",
                    )
                })?;
                if lit.value().trim().is_empty() {
                    push(
                        errors,
                        syn::Error::new(lit.span(), "the span name must not be empty"),
                    );
                }
                self.name = Some(lit);
            }
            "tags" => {
                let content = list_after(
                    input,
                    &key,
                    "`tags` takes a list: `tags(db.type = \"mongo\", rows = 3)`",
                )?;
                let tags = Punctuated::<TagArg, Token![,]>::parse_terminated(&content)?;
                for tag in tags {
                    if self.tags.iter().any(|t| t.key == tag.key) {
                        push(
                            errors,
                            syn::Error::new(
                                tag.key_span,
                                format!("the tag `{}` is set twice", tag.key),
                            ),
                        );
                    }
                    self.tags.push(tag);
                }
            }
            "kind" => {
                value_after(
                    input,
                    &key,
                    "`kind` takes a span kind: `kind = server` (or client, producer, consumer)",
                )?;
                let value = Ident::parse_any(input)?;
                match KINDS.iter().find(|k| value == **k) {
                    Some(kind) => self.kind = Some((key, kind)),
                    None => push(
                        errors,
                        syn::Error::new(value.span(), format!("unknown span kind `{value}`; expected one of: server, client, producer, consumer")),
                    ),
                }
            }
            "follows_from" | "args" | "ret" | "off" => {
                if !input.is_empty() {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("`{name}` takes no value; write `{name}` alone"),
                    ));
                }
                let slot = match name.as_str() {
                    "follows_from" => &mut self.follows_from,
                    "args" => &mut self.args,
                    "ret" => &mut self.ret,
                    _ => &mut self.off,
                };
                *slot = Some(key);
            }
            "skip" => {
                let content = list_after(
                    input,
                    &key,
                    "`skip` takes parameter names: `skip(password, token)`",
                )?;
                let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                    &content,
                    Ident::parse_any,
                )?;
                self.skip = Some((key, names.into_iter().collect()));
            }
            "context" => {
                value_after(
                    input,
                    &key,
                    "`context` names a parameter: `context = cx`, or `context = none`",
                )?;
                let value = Ident::parse_any(input)?;
                let context = if value == "none" {
                    ContextArg::None
                } else {
                    ContextArg::Param(value)
                };
                self.context = Some((key, context));
            }
            "crate" => {
                value_after(input, &key, "`crate` takes a path: `crate = ::traced`")?;
                self.krate = Some(input.call(Path::parse_mod_style)?);
            }
            _ => {
                // Whatever follows the unknown key is not looked at: its meaning is unknown.
                input.parse::<TokenStream>()?;
                return Err(syn::Error::new(key.span(), unknown(&name)));
            }
        }
        Ok(())
    }
}

/// `=` after `key`, or an error at the key saying what to write.
fn value_after(input: ParseStream, key: &Ident, usage: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
    } else {
        return Err(syn::Error::new(key.span(), usage));
    }
    if input.is_empty() {
        return Err(syn::Error::new(key.span(), usage));
    }
    Ok(())
}

/// The contents of `key(..)`, or an error at the key saying what to write.
fn list_after<'a>(
    input: ParseStream<'a>,
    key: &Ident,
    usage: &str,
) -> syn::Result<ParseBuffer<'a>> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(key.span(), usage));
    }
    let content;
    parenthesized!(content in input);
    Ok(content)
}

/// The message for an unknown argument: the nearest known one, and `tracing`'s own arguments
/// translated for users coming from `#[instrument]`.
fn unknown(name: &str) -> String {
    let from_tracing = match name {
        "fields" => Some("traced calls them `tags`: `tags(db.type = \"mongo\")`".to_owned()),
        "err" => Some("traced records `Err` results without it: remove `err`".to_owned()),
        "skip_all" => {
            Some("traced records arguments only with `args`: remove `skip_all`".to_owned())
        }
        "level" | "target" | "parent" => Some(format!("traced has no `{name}`: remove it")),
        _ => None,
    };
    if let Some(advice) = from_tracing {
        return format!("unknown argument `{name}` (`tracing`'s `{name}`); {advice}");
    }
    let nearest = ARGUMENTS
        .split(", ")
        .map(|known| (edit_distance(name, known), known))
        .min()
        .filter(|(distance, _)| *distance <= 2);
    match nearest {
        Some((_, known)) => format!(
            "unknown argument `{name}`; did you mean `{known}`? (expected one of: {ARGUMENTS})"
        ),
        None => format!("unknown argument `{name}`; expected one of: {ARGUMENTS}"),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
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
