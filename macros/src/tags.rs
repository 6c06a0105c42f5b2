//! Parsing `tags(db.type = "mongo", db.instance = self.db.clone(), image.id = %id, rows = 3)`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

/// One `key = value` of `tags(...)`.
#[derive(Clone)]
pub(crate) struct TagArg {
    /// The dotted key, as Jaeger shows it (`db.type`).
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: TagValue,
}

#[derive(Clone)]
pub(crate) enum TagValue {
    /// A literal: lives in the call site's `static`, costs nothing per call.
    Static(StaticLit),
    /// `%expr`: the value's `Display` text.
    Display(Expr),
    /// `?expr`: the value's `Debug` text.
    Debug(Expr),
    /// Any other expression: a string, bool, integer or float, computed when sampled.
    Computed(Expr),
}

#[derive(Clone)]
pub(crate) enum StaticLit {
    Str(LitStr),
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Parse for TagArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (key, key_span) = parse_key(input)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key_span,
                format!(
                    "expected `=` and a value after the tag key `{key}`, e.g. `{key} = \"value\"`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(format!("expected a value for the tag `{key}`")));
        }
        let value = if input.parse::<Option<Token![%]>>()?.is_some() {
            TagValue::Display(input.parse()?)
        } else if input.parse::<Option<Token![?]>>()?.is_some() {
            TagValue::Debug(input.parse()?)
        } else {
            let expr: Expr = input.parse()?;
            match static_literal(&expr)? {
                Some(lit) => TagValue::Static(lit),
                None => TagValue::Computed(expr),
            }
        };
        Ok(TagArg {
            key,
            key_span,
            value,
        })
    }
}

/// A key is a string literal, or identifiers joined by dots (keywords allowed: `db.type`).
fn parse_key(input: ParseStream) -> syn::Result<(String, Span)> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        if lit.value().is_empty() {
            return Err(syn::Error::new(lit.span(), "a tag key must not be empty"));
        }
        return Ok((lit.value(), lit.span()));
    }
    if !input.peek(Ident::peek_any) {
        return Err(input
            .error("expected a tag key: `db.type = \"mongo\"` or `\"http.status_code\" = 200`"));
    }
    let first = Ident::parse_any(input)?;
    let mut key = first.unraw().to_string();
    let mut span = first.span();
    while input.peek(Token![.]) {
        input.parse::<Token![.]>()?;
        let part = Ident::parse_any(input)
            .map_err(|_| input.error(format!("expected a name after `{key}.`")))?;
        key.push('.');
        key.push_str(&part.unraw().to_string());
        span = span.join(part.span()).unwrap_or(span);
    }
    Ok((key, span))
}

fn static_literal(expr: &Expr) -> syn::Result<Option<StaticLit>> {
    let (negative, lit) = match expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, lit),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) => (true, lit),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(match lit {
        Lit::Str(s) => StaticLit::Str(s.clone()),
        Lit::Bool(b) => StaticLit::Bool(b.value),
        Lit::Int(i) => {
            let text = if negative {
                format!("-{}", i.base10_digits())
            } else {
                i.base10_digits().to_owned()
            };
            StaticLit::Int(text.parse::<i64>().map_err(|_| {
                syn::Error::new(
                    i.span(),
                    "an integer tag must fit in i64, as Jaeger stores it",
                )
            })?)
        }
        Lit::Float(f) => {
            let value: f64 = f.base10_parse()?;
            StaticLit::Float(if negative { -value } else { value })
        }
        other => {
            return Err(syn::Error::new(
                other.span(),
                "a tag value is a string, bool, integer or float; write `%value` for Display text",
            ))
        }
    }))
}
