//! The procedural macros of [Portcullis](https://docs.rs/portcullis). Use them through the
//! `portcullis` crate: generated code names the runtime as `::portcullis::__private`.
//!
//! Each macro parses its input (`attr`, `scope.rs`), builds a model whose values render
//! themselves as the runtime's (`model.rs`, with `path` and `rate`), checks the rules
//! between the values and the handler and reports spanned errors (`valid.rs`,
//! `handler.rs`), then generates code (`expand.rs`, `input.rs`). What depends on the types
//! of the handler's arguments and output is checked by the generated code, through the
//! runtime's `checks`.
//!
//! The grammars of what users write (`attr`, `rate`, `path`, with `errors` and `suggest`)
//! live in the `portcullis-grammar` crate, imported here under the same names: a
//! `proc-macro` crate can export nothing but macros, and the fuzz targets call those
//! parsers as plain functions. Its `scope` grammar is the one the runtime uses too.

#![forbid(unsafe_code)]

mod docs;
mod expand;
mod garde;
mod handler;
mod input;
mod model;
mod output;
mod response;
mod scope;
mod serde_names;
mod valid;

use portcullis_grammar::{attr, errors, path, rate, suggest};
use proc_macro::TokenStream;

/// Declares a secured endpoint. See the `portcullis` crate documentation.
#[proc_macro_attribute]
pub fn secure(attribute: TokenStream, item: TokenStream) -> TokenStream {
    expand::endpoint(attr::Kind::Secure, attribute.into(), item.into()).into()
}

/// Declares a public endpoint. See the `portcullis` crate documentation.
#[proc_macro_attribute]
pub fn public(attribute: TokenStream, item: TokenStream) -> TokenStream {
    expand::endpoint(attr::Kind::Public, attribute.into(), item.into()).into()
}

/// Makes a struct a validated input. See the `portcullis` crate documentation.
#[proc_macro_attribute]
pub fn input(attribute: TokenStream, item: TokenStream) -> TokenStream {
    input::input(attribute.into(), item.into()).into()
}

/// Makes a type a documented response. See the `portcullis` crate documentation.
#[proc_macro_attribute]
pub fn output(attribute: TokenStream, item: TokenStream) -> TokenStream {
    output::output(attribute.into(), item.into()).into()
}

/// Declares the scopes of an API. See the `portcullis` crate documentation.
#[proc_macro]
pub fn scopes(input: TokenStream) -> TokenStream {
    scope::scopes(input.into()).into()
}

/// A rate checked at compile time. See the `portcullis` crate documentation.
#[proc_macro]
pub fn rate(input: TokenStream) -> TokenStream {
    rate_macro(input.into()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn resolve_scope(input: TokenStream) -> TokenStream {
    scope::resolve(input.into()).into()
}

fn rate_macro(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let (text, burst) = match rate::macro_arguments(input) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    match rate::parse(&text.value()) {
        Ok(rate::ParsedRate::Limit { count, period_secs }) => {
            let burst = match burst.map(|lit| (lit.base10_parse::<u32>(), lit)) {
                None => count,
                Some((Ok(burst), _)) if burst > 0 => burst,
                Some((_, lit)) => {
                    return syn::Error::new(lit.span(), "`burst` is from 1 to 4294967295")
                        .to_compile_error();
                }
            };
            quote::quote!(::portcullis::__private::checked_rate(#count, #period_secs, #burst))
        }
        Ok(rate::ParsedRate::Unlimited) => syn::Error::new(
            text.span(),
            "`rate!` builds a limit; \"unlimited\" is only for endpoints (`rate = \"unlimited\"`)",
        )
        .to_compile_error(),
        Err(message) => syn::Error::new(text.span(), message).to_compile_error(),
    }
}
