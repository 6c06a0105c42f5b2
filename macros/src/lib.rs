//! The `#[traced]` attribute. Depend on the `traced` crate, which re-exports it and holds the
//! runtime it expands to; this crate only rewrites functions.
//!
//! See the [`traced`](https://docs.rs/traced) documentation for the arguments and examples.

mod args;
mod async_fn;
mod expand;
mod impl_block;
mod item;
mod params;
mod returned_future;
mod sync_fn;
mod tags;

use proc_macro::TokenStream;

/// Traces every call of a function (or of every method of an `impl` block) as a span.
///
/// Documented with examples in the `traced` crate, which re-exports it.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let expanded = syn::parse::<args::Args>(args).and_then(|args| item::expand(args, item.clone()));
    match expanded {
        Ok(tokens) => tokens.into(),
        // The item stays as written, so the error is the only one the user sees.
        Err(error) => {
            let mut tokens = error.into_compile_error();
            tokens.extend(item);
            tokens.into()
        }
    }
}
