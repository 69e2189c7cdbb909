//! The endpoint model: what an attribute means once read, in types that render themselves
//! as the runtime's values. Building reads each value and records what cannot be read;
//! the rules between values are checked in `valid.rs`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned;

use crate::attr::{EndpointArgs, Kind, METHODS};
use crate::errors::Errors;
use crate::path::{self, RoutePath};
use crate::rate::{self, ParsedRate};

/// An endpoint's HTTP method: renders as the runtime's `HttpMethod` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    /// The method a bare word of the attribute names (one of [`METHODS`]).
    pub(crate) fn from_word(word: &str) -> Option<Method> {
        Some(match word {
            "get" => Method::Get,
            "post" => Method::Post,
            "put" => Method::Put,
            "patch" => Method::Patch,
            "delete" => Method::Delete,
            "head" => Method::Head,
            "options" => Method::Options,
            _ => return None,
        })
    }
}

impl ToTokens for Method {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let variant = match self {
            Method::Get => quote!(Get),
            Method::Post => quote!(Post),
            Method::Put => quote!(Put),
            Method::Patch => quote!(Patch),
            Method::Delete => quote!(Delete),
            Method::Head => quote!(Head),
            Method::Options => quote!(Options),
        };
        tokens.extend(quote!(::portcullis::__private::HttpMethod::#variant));
    }
}

/// The rate of an endpoint: renders as the runtime's `EndpointRate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateModel {
    Default,
    Limit {
        count: u32,
        period_secs: u64,
        burst: u32,
    },
    Unlimited,
}

impl ToTokens for RateModel {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(match self {
            RateModel::Default => quote!(::portcullis::__private::EndpointRate::Default),
            RateModel::Unlimited => quote!(::portcullis::__private::EndpointRate::Unlimited),
            RateModel::Limit {
                count,
                period_secs,
                burst,
            } => quote! {
                ::portcullis::__private::EndpointRate::Limit(
                    ::portcullis::__private::checked_rate(#count, #period_secs, #burst)
                )
            },
        });
    }
}

/// A rate key the runtime knows: renders as the runtime's `RateKeyKind` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuiltinKey {
    Client,
    Subject,
    Ip,
    Global,
}

impl BuiltinKey {
    /// Every key, with the word that names it in the attribute.
    pub(crate) const ALL: [(&'static str, BuiltinKey); 4] = [
        ("client", BuiltinKey::Client),
        ("subject", BuiltinKey::Subject),
        ("ip", BuiltinKey::Ip),
        ("global", BuiltinKey::Global),
    ];

    /// The key a word names.
    pub(crate) fn from_word(word: &str) -> Option<BuiltinKey> {
        BuiltinKey::ALL
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, key)| *key)
    }

    /// Whether the key needs the caller's verified token.
    pub(crate) fn needs_token(self) -> bool {
        matches!(self, BuiltinKey::Client | BuiltinKey::Subject)
    }
}

/// What an endpoint's rate counts: renders as the runtime's `RateKeyKind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RateKeyModel {
    /// A key the runtime knows.
    Builtin(BuiltinKey),
    /// `rate_key = path::to::fn`: a function of the request that picks the key.
    Custom(syn::Path),
}

impl ToTokens for RateKeyModel {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(match self {
            RateKeyModel::Builtin(key) => {
                let variant = match key {
                    BuiltinKey::Client => quote!(Client),
                    BuiltinKey::Subject => quote!(Subject),
                    BuiltinKey::Ip => quote!(Ip),
                    BuiltinKey::Global => quote!(Global),
                };
                quote!(::portcullis::__private::RateKeyKind::#variant)
            }
            RateKeyModel::Custom(path) => {
                let name = quote!(#path).to_string().replace(' ', "");
                quote_spanned! {path.span()=>
                    ::portcullis::__private::RateKeyKind::Custom(::portcullis::__private::RateKeyFn { name: #name, key: #path })
                }
            }
        });
    }
}

/// An endpoint whose attribute broke no rule (or, with errors, the best reading of it).
pub(crate) struct EndpointModel {
    pub(crate) kind: Kind,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) params: Vec<String>,
    /// Whether `path` is the one written (false when it was missing or malformed).
    pub(crate) path_known: bool,
    pub(crate) all_scopes: Vec<LitStr>,
    pub(crate) any_scopes: Vec<LitStr>,
    pub(crate) roles: Vec<LitStr>,
    pub(crate) policy: Option<syn::Path>,
    /// Only DPoP-bound tokens (`dpop`).
    pub(crate) dpop: bool,
    pub(crate) rate: RateModel,
    /// What the rate counts.
    pub(crate) rate_key: RateKeyModel,
    pub(crate) body_limit: Option<usize>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) operation_id: Option<LitStr>,
    /// The declared success status.
    pub(crate) status: Option<(u16, Span)>,
    /// The declared error statuses, each once.
    pub(crate) errors: Vec<(u16, LitStr)>,
}

/// The example an error about a missing part quotes.
pub(crate) fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Secure => "#[secure(get, path = \"/orders/{id}\", scope = \"orders:read\")]",
        Kind::Public => "#[public(get, path = \"/health\")]",
    }
}

/// Reads each value of `args` into the model; what cannot be read is recorded in `errors`
/// and replaced by a stand-in, so that the expansion goes on.
pub(crate) fn build(kind: Kind, args: &EndpointArgs, errors: &mut Errors) -> EndpointModel {
    let method = method(kind, args, errors);
    let (path, params, path_known) = route(kind, args, errors);
    let rate = rate(args, errors);
    let rate_key = rate_key(kind, args, errors);
    let body_limit = body_limit(args, errors);
    let status = status(args, errors);
    let declared_errors = declared_errors(args, errors);
    let items = |list: &Option<crate::attr::StrList>| {
        list.as_ref()
            .map(|list| list.items.clone())
            .unwrap_or_default()
    };
    let mut all_scopes: Vec<LitStr> = args.scope.iter().cloned().collect();
    all_scopes.extend(items(&args.scopes));
    EndpointModel {
        kind,
        method,
        path,
        params,
        path_known,
        all_scopes,
        any_scopes: items(&args.any_scope),
        roles: items(&args.roles),
        policy: args.policy.clone(),
        dpop: args.dpop.is_some(),
        rate,
        rate_key,
        body_limit,
        tags: args.tags.clone(),
        operation_id: args.operation_id.clone(),
        status,
        errors: declared_errors,
    }
}

/// The first method written; `GET` when none could be read.
fn method(kind: Kind, args: &EndpointArgs, errors: &mut Errors) -> Method {
    match args.methods.first() {
        Some(first) => Method::from_word(&first.to_string()).unwrap_or(Method::Get),
        None => {
            // An unknown word was reported where it was read.
            if !args.unknown_method {
                errors.at(
                    Span::call_site(),
                    format!(
                        "missing HTTP method: start with one of {}, as in `{}`",
                        METHODS.join(", "),
                        example(kind)
                    ),
                );
            }
            Method::Get
        }
    }
}

/// The path and its parameters, and whether they are the ones written.
fn route(kind: Kind, args: &EndpointArgs, errors: &mut Errors) -> (String, Vec<String>, bool) {
    match &args.path {
        None => {
            errors.at(
                Span::call_site(),
                format!("missing `path = \"/...\"`, as in `{}`", example(kind)),
            );
            ("/".to_owned(), Vec::new(), false)
        }
        Some(lit) => match path::parse(&lit.value()) {
            Ok(RoutePath { params }) => (lit.value(), params, true),
            Err(message) => {
                errors.at(lit.span(), message);
                ("/".to_owned(), Vec::new(), false)
            }
        },
    }
}

/// The rate with its burst; the configured default when none is written or readable.
fn rate(args: &EndpointArgs, errors: &mut Errors) -> RateModel {
    let parsed = args
        .rate
        .as_ref()
        .and_then(|lit| match rate::parse(&lit.value()) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                errors.at(lit.span(), message);
                None
            }
        });
    let burst = args.burst.as_ref().and_then(|lit| {
        // Without a rate, reported with the rules between arguments.
        args.rate.as_ref()?;
        match lit.base10_parse::<u32>() {
            Ok(0) | Err(_) => {
                errors.at(
                    lit.span(),
                    "`burst` is the number of requests allowed at once: from 1 to 4294967295",
                );
                None
            }
            Ok(burst) => Some(burst),
        }
    });
    match parsed {
        None => RateModel::Default,
        Some(ParsedRate::Unlimited) => RateModel::Unlimited,
        Some(ParsedRate::Limit { count, period_secs }) => RateModel::Limit {
            count,
            period_secs,
            burst: burst.unwrap_or(count),
        },
    }
}

/// What the rate counts: a keyword, or a function. A single word close to a keyword is
/// taken for a misspelt keyword.
fn rate_key(kind: Kind, args: &EndpointArgs, errors: &mut Errors) -> RateKeyModel {
    let default = RateKeyModel::Builtin(match kind {
        Kind::Public => BuiltinKey::Ip,
        Kind::Secure => BuiltinKey::Client,
    });
    let Some(path) = &args.rate_key else {
        return default;
    };
    let Some(ident) = path.get_ident() else {
        return custom_rate_key(kind, path, errors).unwrap_or(default);
    };
    let word = ident.to_string();
    match BuiltinKey::from_word(&word) {
        Some(key) if kind == Kind::Public && key.needs_token() => {
            errors.at(
                ident.span(),
                format!("a `#[public]` endpoint has no token, so no `{word}`: use `rate_key = ip` or `rate_key = global`"),
            );
            default
        }
        Some(key) => RateKeyModel::Builtin(key),
        None => {
            let hint =
                crate::suggest::did_you_mean(&word, BuiltinKey::ALL.iter().map(|(name, _)| *name));
            if hint.is_empty() {
                return custom_rate_key(kind, path, errors).unwrap_or(default);
            }
            errors.at(
                ident.span(),
                format!(
                    "unknown rate key `{word}`{hint}; expected one of: client, subject, ip, \
                     global, or a key function (write `self::{word}` for a function of that name)"
                ),
            );
            default
        }
    }
}

/// `rate_key = path::to::fn`, on a `#[secure]` endpoint only.
fn custom_rate_key(kind: Kind, path: &syn::Path, errors: &mut Errors) -> Option<RateKeyModel> {
    if kind == Kind::Public {
        errors.spanning(
            path,
            "a key function reads the caller's verified token, which a `#[public]` endpoint \
             has not: key it with `rate_key = ip` or `rate_key = global`",
        );
        return None;
    }
    Some(RateKeyModel::Custom(path.clone()))
}

fn body_limit(args: &EndpointArgs, errors: &mut Errors) -> Option<usize> {
    let lit = args.body_limit.as_ref()?;
    match lit.base10_parse::<usize>() {
        Ok(0) | Err(_) => {
            errors.at(lit.span(), "`body_limit` is a number of bytes, at least 1");
            None
        }
        Ok(bytes) => Some(bytes),
    }
}

fn status(args: &EndpointArgs, errors: &mut Errors) -> Option<(u16, Span)> {
    let lit = args.status.as_ref()?;
    match lit.base10_parse::<u16>() {
        Ok(code @ 200..=399) => Some((code, lit.span())),
        _ => {
            errors.at(
                lit.span(),
                "`status` is the success status, from 200 to 399; declare errors with `errors(...)`",
            );
            None
        }
    }
}

/// The declared error statuses, each once.
fn declared_errors(args: &EndpointArgs, errors: &mut Errors) -> Vec<(u16, LitStr)> {
    let mut declared: Vec<(u16, LitStr)> = Vec::new();
    for (lit, description) in &args.errors {
        match lit.base10_parse::<u16>() {
            Ok(code @ 400..=599) if !declared.iter().any(|(known, _)| *known == code) => {
                declared.push((code, description.clone()));
            }
            Ok(code @ 400..=599) => {
                errors.at(lit.span(), format!("the status {code} is listed twice"))
            }
            _ => errors.at(lit.span(), "an error status is from 400 to 599"),
        }
    }
    declared
}
