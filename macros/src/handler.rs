//! Reading the handler function: its arguments, and what can be checked of them by their
//! syntax alone.

use proc_macro2::Span;
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, ItemFn, PathArguments, Type};

use crate::errors::Errors;

/// One handler argument: the identifier the outer function gives it, and its type.
pub(crate) struct HandlerArg {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

/// The handler's arguments, or nothing when the function cannot be wrapped (generics, a
/// receiver); each problem is recorded.
pub(crate) fn arguments(
    func: &ItemFn,
    kind_name: &str,
    errors: &mut Errors,
) -> Option<Vec<HandlerArg>> {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            format!(
                "`#[{kind_name}]` handlers are `async fn`: write `async fn {}`",
                sig.ident
            ),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span,
            format!("`#[{kind_name}]` handlers cannot be `const`"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.at(
            unsafety.span,
            format!("`#[{kind_name}]` handlers cannot be `unsafe`"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanning(abi, format!("`#[{kind_name}]` handlers cannot have an ABI"));
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanning(
            variadic,
            format!("`#[{kind_name}]` handlers cannot be variadic"),
        );
    }
    let mut wrappable = true;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanning(
            &sig.generics,
            format!("`#[{kind_name}]` handlers cannot be generic: an endpoint has one concrete signature"),
        );
        wrappable = false;
    }
    let mut args = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                errors.spanning(
                    receiver,
                    format!("`#[{kind_name}]` handlers are free functions, not methods"),
                );
                wrappable = false;
            }
            FnArg::Typed(typed) => {
                if contains_impl_trait(&typed.ty) {
                    errors.spanning(&typed.ty, format!("`#[{kind_name}]` handler arguments need concrete types, not `impl Trait`"));
                    wrappable = false;
                }
                args.push(HandlerArg {
                    ident: format_ident!("__portcullis_arg{}", index),
                    ty: (*typed.ty).clone(),
                });
            }
        }
    }
    wrappable.then_some(args)
}

/// Whether `ty` holds an `impl Trait` anywhere the syntax shows.
pub(crate) fn contains_impl_trait(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(_) => true,
        Type::Path(path) => path
            .path
            .segments
            .iter()
            .any(|segment| match &segment.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                    GenericArgument::Type(ty) => contains_impl_trait(ty),
                    _ => false,
                }),
                _ => false,
            }),
        Type::Tuple(tuple) => tuple.elems.iter().any(contains_impl_trait),
        Type::Reference(reference) => contains_impl_trait(&reference.elem),
        Type::Paren(paren) => contains_impl_trait(&paren.elem),
        _ => false,
    }
}

/// The last path segment's name and its single type argument, if any.
fn last_segment(ty: &Type) -> Option<(&Ident, Option<&Type>)> {
    let Type::Path(path) = ty else {
        return None;
    };
    let segment = path.path.segments.last()?;
    let argument = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }),
        _ => None,
    };
    Some((&segment.ident, argument))
}

const SCALARS: [&str; 18] = [
    "bool", "char", "String", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32",
    "i64", "i128", "isize", "f32", "f64", "Uuid",
];

/// How many path parameters a `Path<T>` argument takes, when the syntax tells.
pub(crate) enum PathArity {
    /// Not a `Path` extractor.
    NotPath,
    /// A `Path` whose parameter count is known.
    Known(usize, Span),
    /// A `Path` of a struct or alias: the count cannot be read from the syntax.
    Unknown,
}

/// The path-parameter arity of an argument type.
pub(crate) fn path_arity(ty: &Type) -> PathArity {
    match last_segment(ty) {
        Some((ident, Some(inner))) if ident == "Path" => match inner {
            Type::Tuple(tuple) => PathArity::Known(tuple.elems.len(), ty.span()),
            other => match last_segment(other) {
                Some((name, None)) if SCALARS.iter().any(|scalar| name == scalar) => {
                    PathArity::Known(1, ty.span())
                }
                _ => PathArity::Unknown,
            },
        },
        _ => PathArity::NotPath,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn reads_path_arity() {
        assert!(matches!(
            path_arity(&parse_quote!(Path<u64>)),
            PathArity::Known(1, _)
        ));
        assert!(matches!(
            path_arity(&parse_quote!(portcullis::Path<(String, u32)>)),
            PathArity::Known(2, _)
        ));
        assert!(matches!(
            path_arity(&parse_quote!(Path<OrderRef>)),
            PathArity::Unknown
        ));
        assert!(matches!(
            path_arity(&parse_quote!(Json<u64>)),
            PathArity::NotPath
        ));
    }

    #[test]
    fn refuses_what_cannot_be_wrapped() {
        let mut errors = Errors::default();
        let func: ItemFn = parse_quote!(
            fn h<T>(x: T) {}
        );
        assert!(arguments(&func, "secure", &mut errors).is_none());
        let text = errors.to_compile_errors().to_string();
        assert!(text.contains("handlers are `async fn`"), "{text}");
        assert!(text.contains("cannot be generic"), "{text}");
    }
}
