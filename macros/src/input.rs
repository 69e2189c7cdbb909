//! `#[input]`: strict deserialization, garde validation and the `Input` trait, from one
//! definition.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::errors::Errors;

/// Expands `#[input]` on a struct with named fields.
pub(crate) fn input(attribute: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if !attribute.is_empty() {
        errors.spanning(
            &attribute,
            "`#[input]` takes no arguments; put garde rules on the fields",
        );
    }
    let parsed: DeriveInput = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(_) => {
            errors.at(
                Span::call_site(),
                "`#[input]` goes on a struct with named fields",
            );
            let compile_errors = errors.to_compile_errors();
            return quote!(#item #compile_errors);
        }
    };
    let fields = match &parsed.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Some(fields),
            other => {
                errors.spanning(
                    other,
                    "`#[input]` needs named fields, so that unknown ones can be refused",
                );
                None
            }
        },
        _ => {
            errors.at(
                parsed.ident.span(),
                "`#[input]` goes on a struct with named fields",
            );
            None
        }
    };
    if !parsed.generics.params.is_empty() {
        errors.spanning(&parsed.generics, "`#[input]` types cannot be generic");
    }
    match crate_name("garde") {
        Ok(FoundCrate::Name(name)) if name == "garde" => {}
        Ok(FoundCrate::Itself) => {}
        Ok(FoundCrate::Name(name)) => errors.at(
            Span::call_site(),
            format!(
                "`#[input]` derives `garde::Validate`, whose code names the crate `garde`; \
                 depend on it under that name, not `{name}`"
            ),
        ),
        Err(_) => errors.at(
            Span::call_site(),
            "`#[input]` derives `garde::Validate`, which needs the `garde` crate as a direct dependency: \
             add `garde = { version = \"0.23\", features = [\"derive\"] }` to [dependencies] in Cargo.toml",
        ),
    }
    if !errors.is_empty() {
        let compile_errors = errors.to_compile_errors();
        return quote!(#item #compile_errors);
    }
    // A field without a rule is garde's own error; then validation is not derived, and the
    // body below must not name it, or the same mistake would be reported twice.
    let every_field_has_rules = fields.is_some_and(|fields| {
        fields
            .named
            .iter()
            .all(|field| field.attrs.iter().any(|attr| attr.path().is_ident("garde")))
    });
    let validate = if every_field_has_rules {
        quote!(::garde::Validate::validate(self).map_err(::portcullis::__private::violations))
    } else {
        quote!(::core::result::Result::Ok(()))
    };
    let name = &parsed.ident;
    let span = name.span();
    let impl_input = quote::quote_spanned! {span=>
        impl ::portcullis::__private::Input for #name {
            fn validate_input(&self) -> ::core::result::Result<(), ::std::vec::Vec<::portcullis::__private::FieldViolation>> {
                #validate
            }
        }
    };
    let _ = parsed.span();
    quote! {
        #[derive(::portcullis::__private::serde::Deserialize, ::garde::Validate)]
        #[serde(crate = "::portcullis::__private::serde", deny_unknown_fields)]
        #item
        #impl_input
    }
}
