//! `#[output]`: a response type, serialized with serde and described with utoipa's
//! `ToSchema`, with no dependency on either in the user's manifest.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::DeriveInput;

/// Expands `#[output]` on a struct or an enum.
pub(crate) fn output(attribute: TokenStream, item: TokenStream) -> TokenStream {
    if !attribute.is_empty() {
        return syn::Error::new_spanned(
            attribute,
            "`#[output]` takes no arguments; use `#[schema(...)]` and `#[serde(...)]` on the type",
        )
        .to_compile_error();
    }
    if syn::parse2::<DeriveInput>(item.clone()).is_err() {
        let error = syn::Error::new(Span::call_site(), "`#[output]` goes on a struct or an enum")
            .to_compile_error();
        return quote!(#item #error);
    }
    // utoipa's derive names `utoipa::...` relative to where it expands. A glob import
    // brings the facade's `utoipa` into scope there: globs may repeat without conflict,
    // and any `utoipa` the user imports explicitly takes precedence.
    quote! {
        #[allow(unused_imports)]
        use ::portcullis::__private::utoipa_in_scope::*;
        #[derive(::portcullis::__private::serde::Serialize, ::portcullis::__private::utoipa::ToSchema)]
        #[serde(crate = "::portcullis::__private::serde")]
        #item
    }
}
