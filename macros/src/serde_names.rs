//! The names serde gives fields on the wire (`rename`, `rename_all`), so the schema names
//! what the parser accepts.

use syn::{Attribute, Expr, ExprLit, Lit, Meta, Token, punctuated::Punctuated};

/// The serde attributes of a field or a container that change the schema.
#[derive(Debug, Default)]
pub(crate) struct SerdeAttrs {
    pub(crate) rename: Option<String>,
    pub(crate) rename_all: Option<String>,
    pub(crate) default: bool,
    pub(crate) skip: bool,
    pub(crate) flatten: bool,
}

/// Reads the `#[serde(...)]` attributes in `attrs`.
pub(crate) fn read(attrs: &[Attribute]) -> SerdeAttrs {
    let mut out = SerdeAttrs::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        let Ok(metas) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        else {
            continue;
        };
        for meta in metas {
            let value = match &meta {
                Meta::NameValue(pair) => match &pair.value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(text),
                        ..
                    }) => Some(text.value()),
                    _ => None,
                },
                _ => None,
            };
            let Some(name) = meta.path().get_ident().map(ToString::to_string) else {
                continue;
            };
            match name.as_str() {
                "rename" => out.rename = value,
                "rename_all" => out.rename_all = value,
                "default" => out.default = true,
                "skip" | "skip_deserializing" => out.skip = true,
                "flatten" => out.flatten = true,
                _ => {}
            }
        }
    }
    out
}

/// `field` renamed by the `rename_all` rule, as serde does.
pub(crate) fn apply_rename_all(field: &str, rule: &str) -> Option<String> {
    let words: Vec<&str> = field.split('_').filter(|word| !word.is_empty()).collect();
    let capitalized = |word: &str| {
        let mut chars = word.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    Some(match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "snake_case" => field.to_owned(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.to_uppercase().replace('_', "-"),
        "PascalCase" => words.iter().map(|word| capitalized(word)).collect(),
        "camelCase" => {
            let mut out = String::new();
            for (index, word) in words.iter().enumerate() {
                if index == 0 {
                    out.push_str(word)
                } else {
                    out.push_str(&capitalized(word))
                }
            }
            out
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_like_serde() {
        let cases = [
            ("camelCase", "order_line_id", "orderLineId"),
            ("PascalCase", "order_line_id", "OrderLineId"),
            ("kebab-case", "order_line_id", "order-line-id"),
            ("SCREAMING_SNAKE_CASE", "order_id", "ORDER_ID"),
            ("SCREAMING-KEBAB-CASE", "order_id", "ORDER-ID"),
            ("lowercase", "order_id", "order_id"),
            ("UPPERCASE", "order_id", "ORDER_ID"),
            ("snake_case", "order_id", "order_id"),
        ];
        for (rule, field, expected) in cases {
            assert_eq!(
                apply_rename_all(field, rule).as_deref(),
                Some(expected),
                "{rule}"
            );
        }
        assert_eq!(apply_rename_all("x", "Title Case"), None);
    }
}
