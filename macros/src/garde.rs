//! Reading a field's `#[garde(...)]` rules, to state them in the OpenAPI schema.
//!
//! garde itself checks the rules; this module only translates what JSON Schema can say
//! into `Rule` values of the runtime, and names the rest as unmapped.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, Meta, Token};

/// The `Rule` expressions for the rules in `attrs`, and whether the field has any rule
/// (or `skip`) at all.
pub(crate) fn rules(attrs: &[Attribute]) -> (Vec<TokenStream>, bool) {
    let mut rules = Vec::new();
    let mut any = false;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("garde")) {
        any = true;
        let Ok(metas) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        else {
            // garde reports its own syntax errors.
            continue;
        };
        rules.extend(metas.iter().filter_map(rule));
    }
    (rules, any)
}

fn string_literal(meta: &Meta) -> Option<String> {
    let Meta::List(list) = meta else {
        return None;
    };
    match syn::parse2::<Expr>(list.tokens.clone()).ok()? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Some(text.value()),
        _ => None,
    }
}

fn rule(meta: &Meta) -> Option<TokenStream> {
    let name = meta.path().get_ident()?.to_string();
    let unmapped = || Some(quote!(::portcullis::__private::rules::Rule::Unmapped(#name)));
    let literal = |variant: TokenStream| match string_literal(meta) {
        Some(text) => Some(quote!(::portcullis::__private::rules::Rule::#variant(#text))),
        None => unmapped(),
    };
    match name.as_str() {
        "length" => length(meta).or_else(unmapped),
        "range" => range(meta).or_else(unmapped),
        "pattern" => literal(quote!(Pattern)),
        "contains" => literal(quote!(Contains)),
        "prefix" => literal(quote!(Prefix)),
        "suffix" => literal(quote!(Suffix)),
        "email" => Some(quote!(::portcullis::__private::rules::Rule::Format(
            "email"
        ))),
        "url" => Some(quote!(::portcullis::__private::rules::Rule::Format("uri"))),
        "ipv4" => Some(quote!(::portcullis::__private::rules::Rule::Format("ipv4"))),
        "ipv6" => Some(quote!(::portcullis::__private::rules::Rule::Format("ipv6"))),
        "ip" => Some(quote!(::portcullis::__private::rules::Rule::AnyIp)),
        "ascii" => Some(quote!(::portcullis::__private::rules::Rule::Pattern(
            "^[\\x00-\\x7F]*$"
        ))),
        "required" => Some(quote!(::portcullis::__private::rules::Rule::Required)),
        "dive" | "skip" => None,
        "inner" => {
            let Meta::List(list) = meta else {
                return unmapped();
            };
            let inner = Punctuated::<Meta, Token![,]>::parse_terminated
                .parse2(list.tokens.clone())
                .ok()?;
            let rules = inner.iter().filter_map(rule);
            Some(quote! {{
                const INNER: &[::portcullis::__private::rules::Rule] = &[#(#rules),*];
                ::portcullis::__private::rules::Rule::Inner(INNER)
            }})
        }
        _ => unmapped(),
    }
}

/// `min = .., max = .., equal = ..` and bare mode words.
fn bounds(meta: &Meta) -> Option<(Vec<String>, Option<Expr>, Option<Expr>)> {
    let Meta::List(list) = meta else {
        return None;
    };
    let items = Punctuated::<Meta, Token![,]>::parse_terminated
        .parse2(list.tokens.clone())
        .ok()?;
    let (mut words, mut min, mut max) = (Vec::new(), None, None);
    for item in items {
        match item {
            Meta::Path(path) => words.push(path.get_ident()?.to_string()),
            Meta::NameValue(pair) if pair.path.is_ident("min") => min = Some(pair.value),
            Meta::NameValue(pair) if pair.path.is_ident("max") => max = Some(pair.value),
            Meta::NameValue(pair) if pair.path.is_ident("equal") => {
                min = Some(pair.value.clone());
                max = Some(pair.value);
            }
            _ => return None,
        }
    }
    Some((words, min, max))
}

fn length(meta: &Meta) -> Option<TokenStream> {
    let (words, min, max) = bounds(meta)?;
    let unit = match words.as_slice() {
        [] => quote!(Bytes),
        [word] => match word.as_str() {
            "simple" | "bytes" => quote!(Bytes),
            "chars" => quote!(Chars),
            "graphemes" => quote!(Graphemes),
            "utf16" => quote!(Utf16),
            _ => return None,
        },
        _ => return None,
    };
    let min = optional(min, quote!(usize));
    let max = optional(max, quote!(usize));
    Some(quote! {
        ::portcullis::__private::rules::Rule::Length {
            min: #min,
            max: #max,
            unit: ::portcullis::__private::rules::LengthUnit::#unit,
        }
    })
}

fn range(meta: &Meta) -> Option<TokenStream> {
    let (words, min, max) = bounds(meta)?;
    if !words.is_empty() {
        return None;
    }
    let min = optional(min, quote!(f64));
    let max = optional(max, quote!(f64));
    Some(quote!(::portcullis::__private::rules::Rule::Range { min: #min, max: #max }))
}

fn optional(value: Option<Expr>, ty: TokenStream) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some((#value) as #ty)),
        None => quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn read(attrs: Vec<Attribute>) -> Vec<String> {
        rules(&attrs)
            .0
            .into_iter()
            .map(|rule| rule.to_string().replace(' ', ""))
            .collect()
    }

    #[test]
    fn maps_garde_rules() {
        let rules = read(vec![
            parse_quote!(#[garde(length(chars, min = 1, max = 64), email, custom(check))]),
        ]);
        assert!(
            rules[0].contains("min:::core::option::Option::Some((1)asusize)"),
            "{rules:?}"
        );
        assert!(rules[0].contains("LengthUnit::Chars"), "{rules:?}");
        assert!(rules[1].ends_with("Rule::Format(\"email\")"), "{rules:?}");
        assert!(
            rules[2].ends_with("Rule::Unmapped(\"custom\")"),
            "{rules:?}"
        );

        let rules = read(vec![
            parse_quote!(#[garde(range(min = MIN, max = 10.5), pattern(r"^[a-z]+$"), pattern(RE), inner(length(max = 3)), dive)]),
        ]);
        assert!(
            rules[0].contains("Some((MIN)asf64)") && rules[0].contains("Some((10.5)asf64)"),
            "{rules:?}"
        );
        assert!(
            rules[1].ends_with("Rule::Pattern(\"^[a-z]+$\")"),
            "{rules:?}"
        );
        assert!(
            rules[2].ends_with("Rule::Unmapped(\"pattern\")"),
            "{rules:?}"
        );
        assert!(rules[3].contains("Rule::Inner(INNER)"), "{rules:?}");
        assert_eq!(rules.len(), 4);

        let (none, any) = super::rules(&[parse_quote!(#[serde(default)])]);
        assert!(none.is_empty() && !any);
        let (skip, any) = super::rules(&[parse_quote!(#[garde(skip)])]);
        assert!(skip.is_empty() && any);
    }
}
