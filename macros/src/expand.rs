//! Generating an endpoint: the handler kept as written inside a wrapper of the same name,
//! the hidden metadata type with the endpoint's record, and the compile-time checks.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, ItemFn, LitStr, ReturnType};

use crate::attr::{self, Kind};
use crate::docs::summary_and_description;
use crate::errors::Errors;
use crate::handler::{self, HandlerArg};
use crate::model::{self, BuiltinKey, EndpointModel, RateKeyModel};
use crate::valid;

/// The whole expansion of `#[secure]` or `#[public]`.
pub(crate) fn endpoint(kind: Kind, attribute: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.at(
                Span::call_site(),
                format!("`#[{}]` goes on an `async fn` handler", kind.name()),
            );
            let compile_errors = errors.to_compile_errors();
            return quote!(#item #compile_errors);
        }
    };
    // A second endpoint attribute is reported, and dropped rather than expanded inside.
    func.attrs.retain(|attribute| {
        let Some(other) = endpoint_attribute(attribute) else {
            return true;
        };
        errors.spanning(
            attribute,
            format!(
                "a handler takes one `#[secure]` or `#[public]`, and this one is already \
                 `#[{}]`: declare another handler for this `#[{other}]` endpoint",
                kind.name()
            ),
        );
        false
    });
    let args = attr::parse(kind, attribute, &mut errors);
    let mut model = model::build(kind, &args, &mut errors);
    valid::check(kind, &args, &mut errors);
    let Some(handler_args) = handler::arguments(&func, kind.name(), &mut errors) else {
        // A stand-in of the same name that `routes!` accepts, so that mounting the
        // function adds no second error.
        let outer_attrs = func.attrs.iter().filter(|attr| is_outer(attr));
        let vis = &func.vis;
        let name = &func.sig.ident;
        let compile_errors = errors.to_compile_errors();
        return quote! {
            #(#outer_attrs)*
            #vis fn #name() -> ::portcullis::__private::EndpointFuture<
                ::core::future::Ready<()>,
                ::portcullis::__private::StandIn,
            > {
                ::portcullis::__private::stand_in()
            }
            #compile_errors
        };
    };
    let name = func.sig.ident.to_string();
    valid::check_handler(
        &model,
        args.path.as_ref(),
        &name,
        &handler_args,
        &mut errors,
    );
    if let (Some(span), None) = (
        crate::response::analyze(&func.sig.output).runtime_status,
        model.status,
    ) {
        errors.at(
            span,
            "this handler picks its status code at run time; declare its success status in the \
             attribute, like `status = 201`, so that the OpenAPI document states it",
        );
    }
    if !errors.is_empty() {
        // Still expand, so the handler mounts and nothing else fails; but without scope
        // lookups or a policy, which could only add errors about the same mistake.
        model.all_scopes.clear();
        model.any_scopes.clear();
        model.policy = None;
        if let RateKeyModel::Custom(_) = model.rate_key {
            model.rate_key = RateKeyModel::Builtin(BuiltinKey::Client);
        }
    }
    let expansion = wrap(&func, &model, &handler_args);
    let compile_errors = errors.to_compile_errors();
    quote!(#expansion #compile_errors)
}

/// `secure` or `public` when `attribute` is one of the endpoint attributes, under any
/// path (`#[public]`, `#[portcullis::public]`).
fn endpoint_attribute(attribute: &Attribute) -> Option<&'static str> {
    let last = attribute.path().segments.last()?;
    ["secure", "public"]
        .into_iter()
        .find(|name| last.ident == name)
}

/// Attributes that belong to the item as a whole (docs, `cfg`, deprecation) rather than
/// to the handler's body.
fn is_outer(attr: &Attribute) -> bool {
    ["doc", "cfg", "deprecated"]
        .iter()
        .any(|name| attr.path().is_ident(name))
}

fn wrap(func: &ItemFn, model: &EndpointModel, args: &[HandlerArg]) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let name = &sig.ident;
    let meta = format_ident!("__portcullis_endpoint_{}", name, span = name.span());
    let outer_attrs: Vec<&Attribute> = attrs.iter().filter(|attr| is_outer(attr)).collect();
    let cfg_attrs: Vec<&Attribute> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect();
    let inner_attrs = attrs.iter().filter(|attr| !is_outer(attr));
    let idents: Vec<_> = args.iter().map(|arg| &arg.ident).collect();
    let types: Vec<_> = args.iter().map(|arg| &arg.ty).collect();
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let mut inner_sig = sig.clone();
    inner_sig.asyncness = Some(Default::default());
    let spec = spec(func, model, args);
    let checks = checks(func, model, args);
    // The future is `Send`, as axum's server requires, by the signature's bound: when it
    // is not, the compiler says so with the value held across an `.await`, and mounting
    // the handler adds no second error.
    let future_value = quote! {
        ::portcullis::__private::EndpointFuture::new(#name(#(#idents),*))
    };
    let future = quote! {
        impl ::core::future::Future<Output = #output> + ::core::marker::Send
    };
    // The wrapper is spanned like the handler's name, so that an error about the future
    // (not `Send`) is reported there. Lints see it as the user's code then: it is ours, so
    // its type's complexity and its interface's privacy (which follows the handler's) are
    // allowed, as in any expansion.
    let wrapper = quote_spanned! {name.span()=>
        #[allow(clippy::type_complexity, private_interfaces)]
        #vis fn #name(#(#idents: #types),*)
            -> ::portcullis::__private::EndpointFuture<#future, #meta>
        {
            #(#inner_attrs)*
            #inner_sig #block
            #checks
            #future_value
        }
    };
    quote! {
        #(#outer_attrs)*
        #wrapper

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #(#cfg_attrs)*
        #vis struct #meta;

        #(#cfg_attrs)*
        impl ::portcullis::__private::EndpointMeta for #meta {
            const SPEC: &'static ::portcullis::__private::EndpointSpec = &#spec;
        }
    }
}

/// The checks of the handler's types, in a function that is never called: no verified
/// caller in a `#[public]` endpoint, a body extractor only as the last argument, a
/// response as the output. Each failure is one error, on the argument or the output.
fn checks(func: &ItemFn, model: &EndpointModel, args: &[HandlerArg]) -> TokenStream {
    let mut checks = Vec::new();
    if model.kind == Kind::Public {
        for arg in args {
            let ty = &arg.ty;
            checks.push(quote_spanned! {ty.span()=>
                ::portcullis::__private::public_argument::<#ty, _>(
                    (&::portcullis::__private::Probe::<#ty>::new()).public_argument()
                );
            });
        }
    }
    if let Some((_, before_last)) = args.split_last() {
        for arg in before_last {
            let ty = &arg.ty;
            checks.push(quote_spanned! {ty.span()=>
                ::portcullis::__private::before_last_argument::<#ty, _>(
                    (&::portcullis::__private::Probe::<#ty>::new()).before_last_argument()
                );
            });
        }
    }
    // An `impl Trait` output names its bound itself (and cannot be named here).
    if let ReturnType::Type(_, output) = &func.sig.output
        && !handler::contains_impl_trait(output)
    {
        checks.push(quote_spanned! {output.span()=>
            ::portcullis::__private::handler_response::<#output>();
        });
    }
    quote! {
        #[allow(dead_code, unreachable_code, unused_imports, clippy::diverging_sub_expression)]
        fn __portcullis_checks() {
            use ::portcullis::__private::{ProbeBody as _, ProbeCaller as _, ProbeNoBody as _, ProbeNoCaller as _};
            #(#checks)*
        }
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

/// The function that documents the endpoint. It names every argument type as a
/// `SafeExtractor`, which is also the check that each one validates its input: an
/// unvalidated extractor fails here, once, on its own tokens.
fn document(func: &ItemFn, args: &[HandlerArg]) -> TokenStream {
    // `doc` is named with the call site's span: an argument type's span may come from
    // another macro's expansion (a handler written inside `macro_rules!`), where the
    // function's parameter would not be visible.
    let doc = syn::Ident::new("doc", Span::call_site());
    let extractors = args.iter().map(|arg| {
        let ty = &arg.ty;
        let check =
            quote_spanned!(ty.span()=> <#ty as ::portcullis::__private::SafeExtractor>::document);
        quote!(#check(#doc);)
    });
    let response = crate::response::analyze(&func.sig.output).document;
    quote! {{
        fn __portcullis_document(doc: &mut ::portcullis::__private::OperationDoc<'_>) {
            #(#extractors)*
            #response
        }
        __portcullis_document
    }}
}

fn spec(func: &ItemFn, model: &EndpointModel, args: &[HandlerArg]) -> TokenStream {
    let document = document(func, args);
    let success_status = match model.status {
        Some((status, _)) => quote!(::core::option::Option::Some(#status)),
        None => quote!(::core::option::Option::None),
    };
    let errors = model
        .errors
        .iter()
        .map(|(status, description)| quote!((#status, #description)));
    let handler = func.sig.ident.to_string();
    let method = model.method;
    let path = &model.path;
    let params = &model.params;
    let (summary, description) = summary_and_description(&func.attrs);
    let summary = option_str(summary.as_deref());
    let description = option_str(description.as_deref());
    let tags = &model.tags;
    let operation_id = option_str(model.operation_id.as_ref().map(LitStr::value).as_deref());
    let body_limit = match model.body_limit {
        Some(bytes) => quote!(::core::option::Option::Some(#bytes)),
        None => quote!(::core::option::Option::None),
    };
    let rate = model.rate;
    let rate_key = &model.rate_key;
    let access = match model.kind {
        Kind::Public => quote!(::portcullis::__private::Access::Public),
        Kind::Secure => requirements(model),
    };
    quote! {
        ::portcullis::__private::EndpointSpec {
            handler: #handler,
            module: ::core::module_path!(),
            method: #method,
            path: #path,
            path_params: &[#(#params),*],
            access: #access,
            rate: #rate,
            rate_key: #rate_key,
            body_limit: #body_limit,
            summary: #summary,
            description: #description,
            tags: &[#(#tags),*],
            operation_id: #operation_id,
            success_status: #success_status,
            errors: &[#(#errors),*],
            document: #document,
        }
    }
}

/// The scope lookup macro of the nearest `scopes!`, spanned like `scope` so that a missing
/// declaration is an error there.
fn lookup(scope: &LitStr) -> syn::Ident {
    syn::Ident::new(crate::scope::LOOKUP_MACRO, scope.span())
}

fn scope_set(scopes: &[LitStr]) -> TokenStream {
    let indices = scopes.iter().map(|scope| {
        let lookup = lookup(scope);
        quote_spanned!(scope.span()=> #lookup!(index #scope))
    });
    quote!(::portcullis::__private::ScopeSet::from_indices(&[#(#indices),*]))
}

fn requirements(model: &EndpointModel) -> TokenStream {
    // Spanned like the first scope, so that a missing `scopes!` is one error, there.
    let registry = match model.all_scopes.iter().chain(&model.any_scopes).next() {
        None => quote!(::core::option::Option::None),
        Some(first) => {
            let lookup = lookup(first);
            quote_spanned! {first.span()=> ::core::option::Option::Some(#lookup!(registry))}
        }
    };
    let all_scopes = scope_set(&model.all_scopes);
    let any_scopes = scope_set(&model.any_scopes);
    let all_names = &model.all_scopes;
    let any_names = &model.any_scopes;
    let roles = &model.roles;
    let dpop = model.dpop;
    let policy = match &model.policy {
        Some(path) => {
            let name = quote!(#path).to_string().replace(' ', "");
            quote_spanned! {path.span()=>
                ::core::option::Option::Some(::portcullis::__private::Policy { name: #name, check: #path })
            }
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::portcullis::__private::Access::Secured(::portcullis::__private::Requirements {
            registry: #registry,
            all_scopes: #all_scopes,
            all_scope_names: &[#(#all_names),*],
            any_scopes: #any_scopes,
            any_scope_names: &[#(#any_names),*],
            roles: &[#(#roles),*],
            policy: #policy,
            dpop: #dpop,
        })
    }
}
