//! What the handler's return type says about its success response, read from the syntax:
//! `Json<T>` is JSON of `T`'s schema, `String` is text, `()` is empty, and a `StatusCode`
//! means the status is chosen at run time (so the attribute must declare it).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, PathArguments, ReturnType, Type};

/// The success response, as far as the syntax tells.
pub(crate) struct ResponseShape {
    /// Statements describing the response, run with `doc: &mut OperationDoc` in scope.
    pub(crate) document: TokenStream,
    /// Where a run-time `StatusCode` is, if any.
    pub(crate) runtime_status: Option<Span>,
}

/// Reads `output`.
pub(crate) fn analyze(output: &ReturnType) -> ResponseShape {
    let mut shape = ResponseShape {
        document: TokenStream::new(),
        runtime_status: None,
    };
    match output {
        ReturnType::Default => shape.document = quote!(doc.respond_empty();),
        ReturnType::Type(_, ty) => walk(ty, &mut shape),
    }
    shape
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

fn first_type_argument(segment: &syn::PathSegment) -> Option<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    }
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|segment| segment.ident == name)
}

fn walk(ty: &Type, shape: &mut ResponseShape) {
    match ty {
        Type::Paren(inner) => walk(&inner.elem, shape),
        Type::Group(inner) => walk(&inner.elem, shape),
        Type::Tuple(tuple) if tuple.elems.is_empty() => {
            shape.document = quote!(doc.respond_empty();)
        }
        Type::Tuple(tuple) => {
            let count = tuple.elems.len();
            for part in tuple.elems.iter().take(count - 1) {
                if is_named(part, "StatusCode") {
                    shape.runtime_status = Some(part.span());
                }
            }
            if let Some(last) = tuple.elems.last() {
                walk(last, shape);
            }
        }
        Type::Reference(reference) if matches!(&*reference.elem, Type::Path(p) if p.path.is_ident("str")) =>
        {
            shape.document = text("text/plain; charset=utf-8");
        }
        other => {
            let Some(segment) = last_segment(other) else {
                return;
            };
            let name = segment.ident.to_string();
            match (name.as_str(), first_type_argument(segment)) {
                ("Result", Some(ok)) => walk(ok, shape),
                ("StatusCode", _) => {
                    shape.runtime_status = Some(other.span());
                    shape.document = quote!(doc.respond_empty(););
                }
                ("Json", Some(body)) => {
                    // `Json<Vec<T>>`: an array of references to `T`, rather than `T` inline.
                    // `doc` with the call site's span, as the rest of the expansion names it.
                    let doc = syn::Ident::new("doc", proc_macro2::Span::call_site());
                    if let Some(item) = last_segment(body)
                        .filter(|segment| segment.ident == "Vec")
                        .and_then(first_type_argument)
                    {
                        shape.document = quote_spanned! {body.span()=>
                            let schema = {
                                #[allow(unused_imports)]
                                use ::portcullis::__private::probe::{ViaInput as _, ViaNothing as _, ViaToSchema as _};
                                (&&&::portcullis::__private::probe::SchemaProbe::<#item>::new()).schema_of(#doc.registry())
                            };
                            #doc.respond_with("application/json", ::core::option::Option::Some(::portcullis::__private::array_of(schema)));
                        };
                        return;
                    }
                    shape.document = quote_spanned! {body.span()=>
                        let schema = {
                            #[allow(unused_imports)]
                            use ::portcullis::__private::probe::{ViaInput as _, ViaNothing as _, ViaToSchema as _};
                            (&&&::portcullis::__private::probe::SchemaProbe::<#body>::new()).schema_of(#doc.registry())
                        };
                        #doc.respond_with("application/json", ::core::option::Option::Some(schema));
                    };
                }
                ("String", None) => shape.document = text("text/plain; charset=utf-8"),
                ("Html", _) => shape.document = text("text/html; charset=utf-8"),
                _ => {}
            }
        }
    }
}

fn text(media_type: &str) -> TokenStream {
    quote! {
        doc.respond_with(#media_type, ::core::option::Option::Some(::portcullis::__private::string_schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn shape(output: ReturnType) -> (String, bool) {
        let shape = analyze(&output);
        (shape.document.to_string(), shape.runtime_status.is_some())
    }

    #[test]
    fn reads_common_return_types() {
        let (json, status) = shape(parse_quote!(-> Result<Json<Order>, ApiError>));
        assert!(
            json.contains("SchemaProbe :: < Order >") && json.contains("application/json"),
            "{json}"
        );
        assert!(!status);
        let (created, status) = shape(parse_quote!(-> (StatusCode, Json<Order>)));
        assert!(created.contains("Order") && status);
        assert!(shape(parse_quote!(-> Result<StatusCode, ApiError>)).1);
        assert!(
            shape(parse_quote!(-> &'static str))
                .0
                .contains("text/plain")
        );
        assert!(shape(parse_quote!(-> String)).0.contains("text/plain"));
        assert!(shape(parse_quote!()).0.contains("respond_empty"));
        assert!(shape(parse_quote!(-> ())).0.contains("respond_empty"));
        assert_eq!(
            shape(parse_quote!(-> impl IntoResponse)),
            (String::new(), false)
        );
        assert_eq!(shape(parse_quote!(-> Response)), (String::new(), false));
    }
}
