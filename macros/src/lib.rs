//! The `#[traced]` attribute. Depend on the `traced` crate, which re-exports it and holds the
//! runtime it expands to; this crate only rewrites functions.
//!
//! See the [`traced`](https://docs.rs/traced) documentation for the arguments and examples.

mod args;
mod async_fn;
mod async_trait;
mod expand;
mod impl_block;
mod item;
mod params;
mod sync_fn;
mod tags;

use proc_macro::TokenStream;

/// Traces every call of a function (or of every method of an `impl` block) as a span.
///
/// Documented with examples in the `traced` crate, which re-exports it.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(args as args::Args);
    item::expand(args, item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
