//! What every expansion shares: the call site's `static`, starting the span, the tags computed
//! when sampled, rebinding the explicit context, and recording the result. The shape-specific
//! files (`sync_fn`, `async_fn`, `async_trait`) only decide where the body goes.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::visit_mut::VisitMut;
use syn::{Ident, Path, ReturnType, Signature, Type};

use crate::args::Args;
use crate::params::Params;
use crate::tags::{StaticLit, TagValue};

/// Everything the expansion of one function needs, worked out from its arguments and signature.
pub(crate) struct Plan {
    /// Starts the span: `let __traced_span = ...;`, then the computed tags.
    pub(crate) start: TokenStream,
    /// First statements of the wrapped body: the explicit context rebound to the span's.
    pub(crate) rebind: TokenStream,
    /// The return type as a type argument: `impl Trait` left to inference.
    pub(crate) output: Type,
    /// Records `Err` results (and `ret`) on the span; expects the result in `result`.
    pub(crate) finish: TokenStream,
    /// `__traced_span`: invisible to the user's body (mixed-site hygiene).
    pub(crate) span: Ident,
    pub(crate) result: Ident,
    /// A `mut` context parameter: the body mutates the rebound copy, not the parameter.
    pub(crate) mutable_context: Option<Ident>,
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
            if returns_unit(&sig.output) {
                return Err(syn::Error::new(
                    ret.span(),
                    "`ret` records the return value, but this function returns `()`; remove `ret`",
                ));
            }
        }

        let callsite = callsite(args, sig, type_name, &krate);
        let parent = match &params.context {
            Some(cx) => {
                let ident = &cx.ident;
                // Spanned at the parameter: a wrong type is reported there.
                let as_parent = quote_spanned! {ident.span()=> #krate::__private::AsParent::as_parent(&#ident) };
                quote! { #span.enter_call_with(#callsite, #as_parent); }
            }
            None => quote! { #span.enter_call(#callsite); },
        };
        let recorded = recorded_tags(args, &params, &krate, &span);
        let rebound = params.context.as_ref().map(|cx| {
            let ident = &cx.ident;
            quote! { let #new_cx = #span.rebind(#krate::__private::AsParent::as_parent(&#ident)); }
        });
        // Made empty, then started in place: the guard is large, and a guard returned by value
        // would be copied on every call.
        let start = quote! {
            let mut #span = #krate::__private::Span::off();
            #parent
            #recorded
            #rebound
        };
        let rebind = match &params.context {
            Some(cx) => {
                let ident = &cx.ident;
                let mutability = cx.mutable.then(|| quote!(mut));
                quote! {
                    let mut #slot: ::core::option::Option<#krate::Context> = ::core::option::Option::None;
                    let #mutability #ident = #krate::__private::Rebind::__traced_rebind(#ident, #new_cx, &mut #slot);
                }
            }
            None => TokenStream::new(),
        };
        let record_ret = args.ret.as_ref().map(|_| {
            quote! {
                if #span.recording() {
                    #span.tag_value("return", (&&&#krate::__private::Val(&#result)).__traced_tag_value());
                }
            }
        });
        let finish = quote! {
            {
                #[allow(unused_imports)]
                use #krate::__private::dispatch::*;
                (&&&#krate::__private::Val(&#result)).__traced_record_err(&#span);
                #record_ret
            }
        };
        Ok(Plan {
            start,
            rebind,
            output: inferred_output(&sig.output),
            finish,
            span,
            result,
            mutable_context: params.context.filter(|cx| cx.mutable).map(|cx| cx.ident),
        })
    }
}

fn returns_unit(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
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
            if skipped.contains(ident) || Some(ident) == context {
                continue;
            }
            let key = ident.unraw().to_string();
            statements.push(quote! {
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

/// The return type with `impl Trait` replaced by `_`, usable where a type argument goes.
fn inferred_output(output: &ReturnType) -> Type {
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(it) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](it.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            Infer.visit_type_mut(&mut ty);
            ty
        }
    }
}
