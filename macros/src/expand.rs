//! What every expansion shares: the call site's `static`, starting the span, the tags computed
//! when sampled, rebinding the explicit context, the body's type, and recording the result. The
//! shape files (`sync_fn`, `async_fn`, `returned_future`) only decide where the body goes.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::visit_mut::VisitMut;
use syn::{Ident, Path, ReturnType, Signature, Type};

use crate::args::Args;
use crate::params::Params;
use crate::tags::{StaticLit, TagValue};

/// Everything the expansion of one function needs, worked out from its arguments and signature.
pub(crate) struct Plan {
    /// The method call that starts the span, without its receiver: `start_call(..)` or
    /// `start_call_under(..)` (see [`Plan::start`] and [`Plan::start_sync`]).
    start_call: TokenStream,
    /// What follows the start: the span's context for an explicit parent, the computed tags.
    after_start: TokenStream,
    /// First statements of the body: the explicit context rebound to the span's.
    pub(crate) rebind: TokenStream,
    /// The path of the runtime crate.
    pub(crate) krate: Path,
    /// `__traced_span`: invisible to the user's body (mixed-site hygiene).
    pub(crate) span: Ident,
    pub(crate) result: Ident,
    /// A `mut` context parameter: the body mutates the rebound copy, not the parameter.
    pub(crate) mutable_context: Option<Ident>,
    /// `ret`: the result is recorded as a tag.
    ret: bool,
}

/// The type a body evaluates to, as generated code can write it.
pub(crate) struct BodyType {
    /// `!` written as `__private::Never`, `impl Trait` as `_`.
    pub(crate) ty: Type,
    /// The type says something (it is not `_`): a `let` of this type fixes an async block's
    /// output, so that `return`s in it coerce as they do in the function.
    known: bool,
    /// `()`: nothing to record.
    pub(crate) unit: bool,
    /// `!`: the body never finishes, nothing after it runs.
    pub(crate) never: bool,
    /// Where the user wrote the type: a note about the body's type points there.
    span: Span,
}

impl Plan {
    pub(crate) fn new(args: &Args, sig: &Signature, type_name: Option<&str>) -> syn::Result<Plan> {
        let params = Params::new(args, sig)?;
        let krate = args.krate();
        let span = Ident::new("__traced_span", Span::mixed_site());
        let result = Ident::new("__traced_result", Span::mixed_site());
        let new_cx = Ident::new("__traced_cx", Span::mixed_site());
        let slot = Ident::new("__traced_slot", Span::mixed_site());

        if let Some(ret) = &args.ret {
            let body = BodyType::of(&sig.output, &krate);
            let returns = if body.never {
                Some("never returns")
            } else if body.unit {
                Some("returns `()`")
            } else {
                None
            };
            if let Some(returns) = returns {
                return Err(syn::Error::new(
                    ret.span(),
                    format!(
                        "`ret` records the return value, but this function {returns}; remove `ret`"
                    ),
                ));
            }
        }

        let callsite = callsite(args, sig, type_name, &krate);
        let (start_call, new_context) = match &params.context {
            Some(cx) => {
                let ident = &cx.ident;
                let at_param = respan(krate.to_token_stream(), ident.span());
                // Spanned at the parameter, every token: a parameter of another crate's
                // `Context` type is then one error there, however often it is used.
                let parent = quote_spanned! {ident.span()=>
                    #at_param::__private::ContextParam::parent(&#ident)
                };
                (
                    quote! { start_call_under(#callsite, #parent) },
                    quote! { let #new_cx = #span.rebind(#parent); },
                )
            }
            None => (quote! { start_call(#callsite) }, TokenStream::new()),
        };
        let recorded = recorded_tags(args, &params, &krate, &span);
        let after_start = quote! {
            #new_context
            #recorded
        };
        let rebind = match &params.context {
            Some(cx) => {
                let ident = &cx.ident;
                let mutability = cx.mutable.then(|| quote!(mut));
                // Spanned at the parameter, like its other use: a wrong type is one error there.
                let at_param = respan(krate.to_token_stream(), ident.span());
                let rebind = quote_spanned! {ident.span()=>
                    let #mutability #ident = #at_param::__private::ContextParam::rebind(#ident, #new_cx, &mut #slot);
                };
                quote! {
                    let mut #slot: ::core::option::Option<#krate::Context> = ::core::option::Option::None;
                    #rebind
                }
            }
            None => TokenStream::new(),
        };
        Ok(Plan {
            start_call,
            after_start,
            rebind,
            krate,
            span,
            result,
            mutable_context: params.context.filter(|cx| cx.mutable).map(|cx| cx.ident),
            ret: args.ret.is_some(),
        })
    }

    /// Starts the span of an async body: `let mut __traced_span = SpanGuard::off();`, started in
    /// place (the guard is large, and one returned by value would be copied on every call), then
    /// the computed tags. The guard moves into the future, which enters it around every poll.
    pub(crate) fn start(&self) -> TokenStream {
        let Plan {
            krate,
            span,
            start_call,
            after_start,
            ..
        } = self;
        quote! {
            let mut #span = #krate::__private::SpanGuard::off();
            #span.#start_call;
            #after_start
        }
    }

    /// Starts the span of a sync body and makes it current: a pinned `SyncSpan`, started in
    /// place, then the computed tags (evaluated with the span current).
    pub(crate) fn start_sync(&self) -> TokenStream {
        let Plan {
            krate,
            span,
            start_call,
            after_start,
            ..
        } = self;
        quote! {
            let mut #span = ::core::pin::pin!(#krate::__private::SyncSpan::off());
            #span.as_mut().#start_call;
            #after_start
        }
    }

    /// Records `Err` results (and `ret`) on the span, reading the result from `self.result`.
    /// Empty where there is nothing to record: no value (`()`, `!`), or a type that is plainly
    /// not a `Result` and no `ret`. The dispatch is a method probe through four traits, about a
    /// third of type checking a traced crate (`benches/compile_time`), so it is left out where
    /// the answer is known.
    pub(crate) fn finish(&self, body: &BodyType) -> TokenStream {
        let Plan {
            krate,
            span,
            result,
            ..
        } = self;
        let record_err = body.may_be_result().then(|| {
            quote! { (&&&#krate::__private::Val(&#result)).__traced_record_err(&#span); }
        });
        let record_ret = (self.ret && body.has_value()).then(|| {
            quote! {
                if #span.recording() {
                    #span.tag_value("return", (&&&#krate::__private::Val(&#result)).__traced_tag_value());
                }
            }
        });
        if record_err.is_none() && record_ret.is_none() {
            return TokenStream::new();
        }
        quote! {
            {
                #[allow(unused_imports)]
                use #krate::__private::dispatch::*;
                #record_err
                #record_ret
            }
        }
    }

    /// A first statement for an async block that makes its output the body's type, as the
    /// function's declared return type does for the function: `return`s and the tail then
    /// coerce (`&Thing` to `&dyn Trait`, `Box<T>` to `Box<dyn Trait>`), and a mistake in them is
    /// reported at the user's tokens. Never runs. Empty where the type is not known whole.
    pub(crate) fn fix_output(&self, body: &BodyType) -> TokenStream {
        if !body.known {
            return TokenStream::new();
        }
        let ty = &body.ty;
        let never = Ident::new("__traced_never", Span::mixed_site().located_at(body.span));
        quote_spanned! {body.span=>
            #[allow(
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return
            )]
            if false {
                let #never: #ty = loop {};
                return #never;
            }
        }
    }
}

impl BodyType {
    /// The type a function's body evaluates to: its declared return type.
    pub(crate) fn of(output: &ReturnType, krate: &Path) -> BodyType {
        match output {
            ReturnType::Default => BodyType::from_type(syn::parse_quote!(()), krate),
            ReturnType::Type(_, ty) => BodyType::from_type((**ty).clone(), krate),
        }
    }

    pub(crate) fn from_type(mut ty: Type, krate: &Path) -> BodyType {
        let span = syn::spanned::Spanned::span(&ty);
        let unit = matches!(&ty, Type::Tuple(t) if t.elems.is_empty());
        let never = matches!(&ty, Type::Never(_));
        let mut writable = Writable { krate };
        writable.visit_type_mut(&mut ty);
        BodyType {
            // `Wrapper<_>` still says enough to check the body against; `_` alone says nothing.
            known: !matches!(ty, Type::Infer(_)),
            ty,
            unit,
            never,
            span,
        }
    }

    /// `true` when the body has a value to record: not `()`, not `!`.
    pub(crate) fn has_value(&self) -> bool {
        !self.unit && !self.never
    }

    /// `false` when the type is plainly not a `Result`: a reference, tuple, array, an
    /// `impl Trait`, or one of the standard library's value types. A `Result` under an alias
    /// of any other name (`io::Result`, `anyhow::Result`, `Fallible<T>`) still counts.
    pub(crate) fn may_be_result(&self) -> bool {
        self.has_value()
            && match &self.ty {
                Type::Path(path) => path.path.segments.last().map_or(true, |last| {
                    last.ident != "Box" && !is_plain_value(&last.ident)
                }),
                Type::Paren(_) | Type::Group(_) | Type::Macro(_) | Type::Verbatim(_) => true,
                _ => false,
            }
    }

    /// `false` when the type is plainly not a future: a reference, tuple, array, or one of the
    /// standard library's value types (`Box` is not one: `Box<dyn Future>` is a future).
    pub(crate) fn may_be_future(&self) -> bool {
        self.has_value()
            && match &self.ty {
                Type::Reference(_) | Type::Tuple(_) | Type::Array(_) | Type::Slice(_) => false,
                Type::Path(path) => path
                    .path
                    .segments
                    .last()
                    .map_or(true, |last| !is_plain_value(&last.ident)),
                _ => true,
            }
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut new =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                token = proc_macro2::TokenTree::Group(new);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// The standard library's value types, by name: neither a `Result` nor a future.
fn is_plain_value(ident: &Ident) -> bool {
    const PLAIN: &[&str] = &[
        "Option", "String", "Vec", "Arc", "Rc", "Cow", "HashMap", "HashSet", "BTreeMap",
        "BTreeSet", "VecDeque", "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize",
        "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64", "Duration", "PathBuf",
    ];
    PLAIN.iter().any(|plain| ident == plain)
}

/// Rewrites a return type into one generated code can write: `impl Trait` (which names a type
/// only in a signature) becomes `_`, and `!` becomes `__private::Never`.
struct Writable<'a> {
    krate: &'a Path,
}

impl VisitMut for Writable<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        match ty {
            Type::ImplTrait(it) => {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](it.impl_token.span),
                });
            }
            Type::Never(never) => {
                let krate = self.krate;
                let bang = never.bang_token.span;
                *ty = syn::parse_quote_spanned!(bang=> #krate::__private::Never);
            }
            _ => syn::visit_mut::visit_type_mut(self, ty),
        }
    }
}

/// The `static` call site: name, literal tags, reference kind. Built by the compiler, read by
/// every call.
fn callsite(args: &Args, sig: &Signature, type_name: Option<&str>, krate: &Path) -> TokenStream {
    let name = match (&args.name, type_name) {
        (Some(name), _) => name.value(),
        (None, Some(ty)) => format!("{ty}::{}", sig.ident.unraw()),
        (None, None) => sig.ident.unraw().to_string(),
    };
    let mut tags = Vec::new();
    if let Some((_, kind)) = &args.kind {
        tags.push(quote! {
            #krate::__private::StaticTag { key: "span.kind", value: #krate::__private::StaticValue::Str(#kind) }
        });
    }
    for tag in &args.tags {
        let TagValue::Static(lit) = &tag.value else {
            continue;
        };
        let key = &tag.key;
        let value = match lit {
            StaticLit::Str(s) => quote!(Str(#s)),
            StaticLit::Bool(b) => quote!(Bool(#b)),
            StaticLit::Int(i) => quote!(I64(#i)),
            StaticLit::Float(f) => quote!(F64(#f)),
        };
        tags.push(quote! {
            #krate::__private::StaticTag { key: #key, value: #krate::__private::StaticValue::#value }
        });
    }
    let follows_from = args.follows_from.is_some();
    quote! {
        {
            static __TRACED_CALLSITE: #krate::__private::Callsite = #krate::__private::Callsite {
                name: #name,
                tags: &[#(#tags),*],
                follows_from: #follows_from,
            };
            &__TRACED_CALLSITE
        }
    }
}

/// Tags computed per call (`tags(k = expr)`, `args`): evaluated only when the span is sampled.
fn recorded_tags(args: &Args, params: &Params, krate: &Path, span: &Ident) -> TokenStream {
    let mut statements = Vec::new();
    for tag in &args.tags {
        let key = &tag.key;
        let statement = match &tag.value {
            TagValue::Static(_) => continue,
            TagValue::Display(expr) => {
                quote_spanned! {tag.key_span=> #span.tag_display(#key, &(#expr)); }
            }
            TagValue::Debug(expr) => {
                quote_spanned! {tag.key_span=> #span.tag_debug(#key, &(#expr)); }
            }
            // By reference: a tag must not move an argument the body still needs.
            TagValue::Computed(expr) => quote_spanned! {tag.key_span=> #span.tag(#key, &(#expr)); },
        };
        statements.push(statement);
    }
    if args.args.is_some() {
        let skipped = args
            .skip
            .as_ref()
            .map(|(_, names)| names.as_slice())
            .unwrap_or_default();
        let context = params.context.as_ref().map(|cx| &cx.ident);
        for binding in &params.bindings {
            let ident = &binding.ident;
            let key = ident.unraw().to_string();
            // An explicit tag of the same name says what the user wants recorded.
            let tagged = args.tags.iter().any(|tag| tag.key == key);
            if skipped.contains(ident) || Some(ident) == context || tagged {
                continue;
            }
            // A parameter compiled out by `#[cfg]` is recorded only where it exists.
            let cfgs = &binding.cfgs;
            statements.push(quote! {
                #(#cfgs)*
                #span.tag_value(#key, (&&&#krate::__private::Val(&#ident)).__traced_tag_value());
            });
        }
    }
    if statements.is_empty() {
        return TokenStream::new();
    }
    let import = args.args.is_some().then(|| {
        quote! {
            #[allow(unused_imports)]
            use #krate::__private::dispatch::*;
        }
    });
    quote! {
        if #span.recording() {
            #import
            #(#statements)*
        }
    }
}
