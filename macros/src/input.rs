//! `#[input]`: strict deserialization, garde validation, the `Input` trait and the JSON
//! Schema with the garde rules, all from one definition.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, FieldsNamed, Type};

use crate::docs::summary_and_description;
use crate::errors::Errors;
use crate::{garde, serde_names};

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
    check_garde_dependency(&mut errors);
    let schema = fields.map(|fields| schema(&parsed, fields, &mut errors));
    if !errors.is_empty() {
        // Without the garde attributes, which no derive reads now: the mistake is the one
        // error.
        let item = without_garde(parsed);
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
        quote!(::garde::Validate::validate(self).map_err(|report| {
            ::portcullis::__private::violations(
                report.iter().map(|(path, error)| (path, error.message())),
            )
        }))
    } else {
        quote!(::core::result::Result::Ok(()))
    };
    let name = &parsed.ident;
    let impl_input = quote_spanned! {name.span()=>
        impl ::portcullis::__private::Input for #name {
            fn validate_input(&self) -> ::core::result::Result<(), ::std::vec::Vec<::portcullis::__private::FieldViolation>> {
                #validate
            }

            fn schema(
                registry: &mut ::portcullis::__private::SchemaRegistry,
            ) -> ::portcullis::__private::utoipa::openapi::RefOr<::portcullis::__private::utoipa::openapi::schema::Schema> {
                #schema
            }

            fn parameters(
                registry: &mut ::portcullis::__private::SchemaRegistry,
            ) -> ::std::vec::Vec<::portcullis::__private::InputParameter> {
                let schema = <Self as ::portcullis::__private::Input>::schema(registry);
                ::portcullis::__private::object_parameters(&schema, registry)
            }
        }
    };
    quote! {
        #[derive(::portcullis::__private::serde::Deserialize, ::garde::Validate)]
        #[serde(crate = "::portcullis::__private::serde", deny_unknown_fields)]
        #item
        #impl_input
    }
}

/// `item` without its fields' `#[garde(...)]` attributes.
fn without_garde(mut item: DeriveInput) -> DeriveInput {
    let strip = |fields: &mut Fields| {
        for field in fields.iter_mut() {
            field.attrs.retain(|attr| !attr.path().is_ident("garde"));
        }
    };
    match &mut item.data {
        Data::Struct(data) => strip(&mut data.fields),
        Data::Enum(data) => {
            for variant in &mut data.variants {
                variant.attrs.retain(|attr| !attr.path().is_ident("garde"));
                strip(&mut variant.fields);
            }
        }
        Data::Union(data) => {
            for field in &mut data.fields.named {
                field.attrs.retain(|attr| !attr.path().is_ident("garde"));
            }
        }
    }
    item
}

fn check_garde_dependency(errors: &mut Errors) {
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
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.segments.last().is_some_and(|segment| segment.ident == "Option"))
}

fn option_text(text: Option<String>) -> TokenStream {
    match text {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

/// The body of `Input::schema`: the object with every field's schema and rules.
fn schema(parsed: &DeriveInput, fields: &FieldsNamed, errors: &mut Errors) -> TokenStream {
    let container = serde_names::read(&parsed.attrs);
    if let Some(rule) = &container.rename_all
        && serde_names::apply_rename_all("a_b", rule).is_none()
    {
        errors.at(
            parsed.ident.span(),
            format!("`#[input]` does not know the serde rename rule \"{rule}\""),
        );
    }
    let mut properties = Vec::new();
    for field in &fields.named {
        let Some(ident) = &field.ident else { continue };
        let serde = serde_names::read(&field.attrs);
        if serde.flatten {
            errors.at(
                ident.span(),
                "`#[input]` cannot refuse unknown fields through `#[serde(flatten)]`; nest the struct instead",
            );
            continue;
        }
        if serde.skip {
            continue;
        }
        let field_name = ident.to_string().trim_start_matches("r#").to_owned();
        let wire = serde.rename.clone().unwrap_or_else(|| {
            container
                .rename_all
                .as_deref()
                .and_then(|rule| serde_names::apply_rename_all(&field_name, rule))
                .unwrap_or_else(|| field_name.clone())
        });
        let ty = &field.ty;
        let (rules, _) = garde::rules(&field.attrs);
        let required = !is_option(ty) && !serde.default && !container.default;
        let (summary, rest) = summary_and_description(&field.attrs);
        let description = option_text(match (summary, rest) {
            (Some(summary), Some(rest)) => Some(format!("{summary}\n\n{rest}")),
            (summary, _) => summary,
        });
        properties.push(quote_spanned! {ty.span()=>
            {
                #[allow(unused_imports)]
                use ::portcullis::__private::probe::{ViaInput as _, ViaNothing as _, ViaToSchema as _};
                let schema = (&&&::portcullis::__private::probe::SchemaProbe::<#ty>::new()).schema_of(registry);
                let rules: &[::portcullis::__private::rules::Rule] = &[#(#rules),*];
                let required = #required || ::portcullis::__private::rules::is_required(rules);
                object = ::portcullis::__private::add_property(
                    object,
                    #wire,
                    ::portcullis::__private::rules::apply(schema, rules),
                    required,
                    #description,
                );
            }
        });
    }
    let name = parsed.ident.to_string();
    let (summary, rest) = summary_and_description(&parsed.attrs);
    let description = option_text(match (summary, rest) {
        (Some(summary), Some(rest)) => Some(format!("{summary}\n\n{rest}")),
        (summary, _) => summary,
    });
    quote! {
        registry.register::<Self>(#name, ::core::any::type_name::<Self>(), |registry| {
            let mut object = ::portcullis::__private::input_object(#description);
            #(#properties)*
            ::portcullis::__private::finish_object(object)
        })
    }
}
