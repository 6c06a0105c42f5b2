//! The function's parameters as the expansion sees them: the names its patterns bind (for `args`
//! and `skip`), the receiver, and which one, if any, is the explicit parent `Context`.

use syn::{Attribute, FnArg, Ident, Pat, Signature, Type};

use crate::args::{push, Args, ContextArg};

/// A parameter the body can name.
pub(crate) struct Binding {
    pub(crate) ident: Ident,
    /// Declared `mut`: the rebound context keeps it.
    pub(crate) mutable: bool,
    /// The parameter's `#[cfg(..)]`s: where it is compiled out, so is what records it.
    pub(crate) cfgs: Vec<Attribute>,
}

pub(crate) struct Params {
    /// Every name bound by the parameter patterns, in order (the receiver is not one).
    pub(crate) bindings: Vec<Binding>,
    /// The parameter the span takes as its parent, if any.
    pub(crate) context: Option<Binding>,
}

impl Params {
    pub(crate) fn new(args: &Args, sig: &Signature) -> syn::Result<Params> {
        let mut bindings = Vec::new();
        let mut typed_contexts = Vec::new();
        for input in &sig.inputs {
            let FnArg::Typed(arg) = input else { continue };
            let before = bindings.len();
            bind(&arg.pat, &mut bindings);
            let cfgs: Vec<Attribute> = arg
                .attrs
                .iter()
                .filter(|attr| attr.path().is_ident("cfg"))
                .cloned()
                .collect();
            for binding in &mut bindings[before..] {
                binding.cfgs.clone_from(&cfgs);
            }
            if is_context_type(&arg.ty) && bindings.len() == before + 1 {
                if let Pat::Ident(_) = &*arg.pat {
                    typed_contexts.push(before);
                }
            }
        }
        let mut errors = None;
        if let Some((_, names)) = &args.skip {
            for name in names {
                // `skip(self)`, everywhere in `tracing` code: the receiver is never recorded,
                // so there is nothing to skip, and nothing to make a migrating user change.
                if name == "self" {
                    continue;
                }
                if !bindings.iter().any(|b| b.ident == *name) {
                    push(&mut errors, missing(name, "skip"));
                }
            }
        }
        let context = match &args.context {
            Some((_, ContextArg::None)) => None,
            Some((_, ContextArg::Param(name))) => {
                match bindings.iter().position(|b| b.ident == *name) {
                    Some(index) => Some(index),
                    None => {
                        push(&mut errors, missing(name, "context"));
                        None
                    }
                }
            }
            None => match typed_contexts.as_slice() {
                [] => None,
                [one] => Some(*one),
                [_, second, ..] => {
                    push(
                        &mut errors,
                        syn::Error::new(
                            bindings[*second].ident.span(),
                            "more than one parameter is a `Context`; say which is the parent with `#[traced(context = name)]`",
                        ),
                    );
                    None
                }
            },
        };
        if let Some(errors) = errors {
            return Err(errors);
        }
        let context = context.map(|index| Binding {
            ident: bindings[index].ident.clone(),
            mutable: bindings[index].mutable,
            cfgs: Vec::new(),
        });
        Ok(Params { bindings, context })
    }
}

/// The body sees a rebound copy of a `mut` context parameter, so the parameter's own `mut` goes
/// unused; the lint would blame the user for the expansion.
pub(crate) fn allow_unused_mut(sig: &mut Signature, ident: &Ident) {
    for input in &mut sig.inputs {
        if let FnArg::Typed(arg) = input {
            if matches!(&*arg.pat, Pat::Ident(p) if p.ident == *ident) {
                arg.attrs.push(syn::parse_quote!(#[allow(unused_mut)]));
            }
        }
    }
}

fn missing(name: &Ident, argument: &str) -> syn::Error {
    syn::Error::new(
        name.span(),
        format!("`{argument}` names `{name}`, but the function has no parameter named `{name}`"),
    )
}

/// Collects the names a pattern binds.
fn bind(pat: &Pat, out: &mut Vec<Binding>) {
    match pat {
        Pat::Ident(p) => {
            out.push(Binding {
                ident: p.ident.clone(),
                mutable: p.mutability.is_some(),
                cfgs: Vec::new(),
            });
            if let Some((_, sub)) = &p.subpat {
                bind(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| bind(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| bind(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| bind(&f.pat, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| bind(p, out)),
        Pat::Reference(r) => bind(&r.pat, out),
        Pat::Paren(p) => bind(&p.pat, out),
        Pat::Type(t) => bind(&t.pat, out),
        Pat::Or(o) => {
            if let Some(first) = o.cases.first() {
                bind(first, out);
            }
        }
        _ => {}
    }
}

/// `Context` or `&Context` (any path ending in `Context` without generics): traced's context,
/// checked by the compiler through `ContextParam`; `context = none` opts out for another crate's.
fn is_context_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => is_context_path(&r.elem),
        other => is_context_path(other),
    }
}

fn is_context_path(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Context" && s.arguments.is_none()),
        Type::Paren(p) => is_context_path(&p.elem),
        _ => false,
    }
}
