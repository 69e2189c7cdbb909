//! `scopes!`: the registry of every scope an API knows, and the lookup that turns a scope
//! written in an attribute into its index, or into an error listing the declared ones.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitStr, Token, bracketed};

use crate::errors::Errors;
use crate::suggest::closest;
use crate::valid::scope_token;

/// The most scopes one registry holds (the size of the runtime's bit sets).
const MAX_SCOPES: usize = 256;

struct Declaration {
    name: LitStr,
    description: LitStr,
}

impl Parse for Declaration {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![=>]>()?;
        let description = input.parse()?;
        Ok(Declaration { name, description })
    }
}

/// Expands `scopes! { "name" => "description", ... }`.
pub(crate) fn scopes(input: TokenStream) -> TokenStream {
    let declarations = match syn::parse::Parser::parse2(
        Punctuated::<Declaration, Token![,]>::parse_terminated,
        input,
    ) {
        Ok(declarations) => declarations,
        Err(error) => {
            // One error, and a stand-in lookup that resolves every scope, so that the
            // endpoints using the scopes add no error of their own.
            let error = syn::Error::new(
                error.span(),
                format!("{error}: declare scopes as `\"orders:read\" => \"Read orders\",` pairs"),
            )
            .to_compile_error();
            let stand_in = stand_in();
            return quote!(#stand_in #error);
        }
    };
    let declarations: Vec<Declaration> = declarations.into_iter().collect();
    let mut errors = Errors::default();
    for (index, declaration) in declarations.iter().enumerate() {
        let name = declaration.name.value();
        if let Err(message) = scope_token(&name) {
            errors.at(declaration.name.span(), message);
        }
        if declarations[..index]
            .iter()
            .any(|earlier| earlier.name.value() == name)
        {
            errors.at(
                declaration.name.span(),
                format!("the scope \"{name}\" is declared twice"),
            );
        }
        if declaration.description.value().trim().is_empty() {
            errors.at(
                declaration.description.span(),
                "describe what the scope grants; the description is documentation",
            );
        }
    }
    if declarations.len() > MAX_SCOPES {
        errors.at(
            declarations[MAX_SCOPES].name.span(),
            format!("an API declares at most {MAX_SCOPES} scopes"),
        );
    }
    // On a mistake, the declarations that are fine still expand, so that endpoints using
    // them compile and the mistake is the one error.
    let valid: Vec<&Declaration> = declarations
        .iter()
        .enumerate()
        .filter(|(index, declaration)| {
            let name = declaration.name.value();
            *index < MAX_SCOPES
                && scope_token(&name).is_ok()
                && !declarations[..*index]
                    .iter()
                    .any(|earlier| earlier.name.value() == name)
        })
        .map(|(_, declaration)| declaration)
        .collect();
    let expansion = registry(&valid);
    let compile_errors = errors.to_compile_errors();
    quote!(#expansion #compile_errors)
}

/// The name of the macro `scopes!` defines where it is invoked. `#[secure]` calls it
/// unqualified, so Rust's scoping of `macro_rules!` finds the nearest declaration that
/// precedes the endpoint, in its module or an enclosing one; when there is none, the
/// compiler's "cannot find macro" error names the fix.
pub(crate) const LOOKUP_MACRO: &str = "declare_scopes_with_portcullis_scopes_before_this_endpoint";

/// The lookup macro, and the registry module kept for code that names the registry.
fn registry(declarations: &[&Declaration]) -> TokenStream {
    let names: Vec<&LitStr> = declarations.iter().map(|d| &d.name).collect();
    let descriptions: Vec<&LitStr> = declarations.iter().map(|d| &d.description).collect();
    let mut sorted: Vec<(String, u16)> = declarations
        .iter()
        .enumerate()
        .map(|(index, d)| (d.name.value(), index as u16))
        .collect();
    sorted.sort();
    let sorted_names: Vec<&String> = sorted.iter().map(|(name, _)| name).collect();
    let sorted_indices: Vec<Literal> = sorted
        .iter()
        .map(|(_, index)| Literal::u16_suffixed(*index))
        .collect();
    let lookup = syn::Ident::new(LOOKUP_MACRO, proc_macro2::Span::call_site());
    let registry = quote! {
        ::portcullis::__private::ScopeRegistry::new(
            &[#(::portcullis::__private::ScopeDecl { name: #names, description: #descriptions }),*],
            &[#((#sorted_names, #sorted_indices)),*],
        )
    };
    quote! {
        /// The scopes declared here (generated by `portcullis::scopes!`).
        #[doc(hidden)]
        #[allow(dead_code)]
        pub(crate) mod __portcullis_scopes {
            /// Every scope declared here.
            pub(crate) static REGISTRY: ::portcullis::__private::ScopeRegistry = #registry;
        }

        /// Resolves the scopes of the endpoints that follow (generated by `portcullis::scopes!`).
        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #lookup {
            (index $scope:literal) => {
                ::portcullis::__private::resolve_scope!($scope in [#(#names),*])
            };
            (registry) => {{
                static REGISTRY: ::portcullis::__private::ScopeRegistry = #registry;
                &REGISTRY
            }};
        }
    }
}

/// The lookup macro of a `scopes!` that could not be read: every scope resolves to the
/// first index of an empty registry. It only lets the endpoints type-check, since the
/// crate does not compile.
fn stand_in() -> TokenStream {
    let lookup = syn::Ident::new(LOOKUP_MACRO, proc_macro2::Span::call_site());
    quote! {
        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #lookup {
            (index $scope:literal) => { 0u16 };
            (registry) => {{
                static REGISTRY: ::portcullis::__private::ScopeRegistry =
                    ::portcullis::__private::ScopeRegistry::new(&[], &[]);
                &REGISTRY
            }};
        }
    }
}

struct Lookup {
    scope: LitStr,
    declared: Vec<LitStr>,
}

impl Parse for Lookup {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let scope = input.parse()?;
        input.parse::<Token![in]>()?;
        let content;
        bracketed!(content in input);
        let declared = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
        Ok(Lookup {
            scope,
            declared: declared.into_iter().collect(),
        })
    }
}

/// Expands `resolve_scope!("name" in ["declared", ...])` to the scope's index, or to an
/// error on the scope literal.
pub(crate) fn resolve(input: TokenStream) -> TokenStream {
    let lookup = match syn::parse2::<Lookup>(input) {
        Ok(lookup) => lookup,
        Err(error) => return error.to_compile_error(),
    };
    let wanted = lookup.scope.value();
    let declared: Vec<String> = lookup.declared.iter().map(LitStr::value).collect();
    if let Some(index) = declared.iter().position(|name| *name == wanted) {
        let index = Literal::u16_suffixed(index as u16);
        return quote!(#index);
    }
    let hint = match closest(&wanted, declared.iter().map(String::as_str)) {
        Some(candidate) => format!(" (did you mean \"{candidate}\"?)"),
        None => String::new(),
    };
    let listed = declared
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "unknown scope \"{wanted}\"{hint}\n\
         the scopes declared in `scopes!` are: {listed}; declare new scopes there"
    );
    syn::Error::new(lookup.scope.span(), message).to_compile_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_declared_scopes_and_suggests_for_typos() {
        let found = resolve(quote!("b" in ["a", "b"])).to_string();
        assert_eq!(found, "1u16");
        let error = resolve(quote!("orders:reed" in ["orders:read", "orders:write"])).to_string();
        assert!(
            error.contains("unknown scope \\\"orders:reed\\\" (did you mean \\\"orders:read\\\"?)"),
            "{error}"
        );
        assert!(
            error.contains("\\\"orders:read\\\", \\\"orders:write\\\""),
            "{error}"
        );
    }

    #[test]
    fn checks_declarations() {
        let error = scopes(quote!("a" => "A", "a" => "again", "b c" => "B", "d" => "")).to_string();
        assert!(error.contains("declared twice"), "{error}");
        assert!(error.contains("without spaces"), "{error}");
        assert!(error.contains("describe what the scope grants"), "{error}");
        // The declarations that are fine still expand: endpoints using them compile.
        assert!(error.contains(LOOKUP_MACRO), "{error}");
        let fine = scopes(quote!("b" => "B", "a" => "A",)).to_string();
        assert!(fine.contains("REGISTRY"), "{fine}");
        assert!(fine.contains(LOOKUP_MACRO), "{fine}");
        assert!(fine.contains("(\"a\" , 1u16) , (\"b\" , 0u16)"), "{fine}");
    }
}
