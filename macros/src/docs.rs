//! Doc comments: the first paragraph is the summary, the rest the description.

use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// The summary and description of the `///` comments in `attrs`.
pub(crate) fn summary_and_description(attrs: &[Attribute]) -> (Option<String>, Option<String>) {
    let mut lines = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(pair) = &attr.meta
            && pair.path.is_ident("doc")
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(text),
                ..
            }) = &pair.value
        {
            for line in text.value().split('\n') {
                lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
            }
        }
    }
    let text = lines.join("\n");
    let text = text.trim();
    if text.is_empty() {
        return (None, None);
    }
    match text.split_once("\n\n") {
        Some((summary, rest)) => {
            let rest = rest.trim();
            (
                Some(summary.replace('\n', " ")),
                (!rest.is_empty()).then(|| rest.to_owned()),
            )
        }
        None => (Some(text.replace('\n', " ")), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn splits_summary_and_description() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[doc = " Gets an order."]),
            parse_quote!(#[doc = " By id."]),
            parse_quote!(#[doc = ""]),
            parse_quote!(#[doc = " Returns 404 when missing."]),
            parse_quote!(#[inline]),
        ];
        let (summary, description) = summary_and_description(&attrs);
        assert_eq!(summary.as_deref(), Some("Gets an order. By id."));
        assert_eq!(description.as_deref(), Some("Returns 404 when missing."));
        assert_eq!(summary_and_description(&[]), (None, None));
    }
}
