//! The rules between the attribute's arguments, and between the attribute and the handler.
//! Every rule breaks with a spanned error saying how to fix it.

use proc_macro2::Span;
use syn::{LitStr, spanned::Spanned};

use crate::attr::{EndpointArgs, Kind, METHODS, StrList};
use crate::errors::Errors;
use crate::handler::{HandlerArg, PathArity, authenticated_extractor, path_arity};
use crate::path::{self, RoutePath};
use crate::rate::{self, ParsedRate};

/// The rate of an endpoint, checked.
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

/// An endpoint whose attribute broke no rule (or, with errors, the best reading of it).
pub(crate) struct EndpointModel {
    pub(crate) kind: Kind,
    /// The `HttpMethod` variant.
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) params: Vec<String>,
    /// Whether `path` is the one written (false when it was missing or malformed).
    pub(crate) path_known: bool,
    pub(crate) all_scopes: Vec<LitStr>,
    pub(crate) any_scopes: Vec<LitStr>,
    pub(crate) roles: Vec<LitStr>,
    pub(crate) policy: Option<syn::Path>,
    pub(crate) rate: RateModel,
    /// What the rate counts.
    pub(crate) rate_key: RateKeyModel,
    pub(crate) body_limit: Option<usize>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) operation_id: Option<LitStr>,
    /// The declared success status.
    pub(crate) status: Option<(u16, Span)>,
    /// The declared error statuses.
    pub(crate) errors: Vec<(u16, LitStr)>,
}

/// What an endpoint's rate counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RateKeyModel {
    /// A key the runtime knows: the `RateKeyKind` variant.
    Builtin(&'static str),
    /// `rate_key = path::to::fn`: a function of the request that picks the key.
    Custom(syn::Path),
}

const RATE_KEYS: [(&str, &str); 4] = [
    ("client", "Client"),
    ("subject", "Subject"),
    ("ip", "Ip"),
    ("global", "Global"),
];

/// What the rate counts: a keyword, or a function. A single word close to a keyword is
/// taken for a misspelt keyword.
fn rate_key_model(kind: Kind, args: &EndpointArgs, errors: &mut Errors) -> RateKeyModel {
    let default = match kind {
        Kind::Public => RateKeyModel::Builtin("Ip"),
        Kind::Secure => RateKeyModel::Builtin("Client"),
    };
    let Some(path) = &args.rate_key else {
        return default;
    };
    let Some(ident) = path.get_ident() else {
        return custom_rate_key(kind, path, errors).unwrap_or(default);
    };
    let word = ident.to_string();
    match RATE_KEYS.iter().find(|(name, _)| *name == word) {
        Some((name, _)) if kind == Kind::Public && matches!(*name, "client" | "subject") => {
            errors.at(
                ident.span(),
                format!("a `#[public]` endpoint has no token, so no `{word}`: use `rate_key = ip` or `rate_key = global`"),
            );
            default
        }
        Some((_, variant)) => RateKeyModel::Builtin(variant),
        None => {
            let hint = crate::suggest::did_you_mean(&word, RATE_KEYS.iter().map(|(name, _)| *name));
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

/// Checks `args`; records every broken rule and returns the best reading regardless.
pub(crate) fn validate(kind: Kind, args: EndpointArgs, errors: &mut Errors) -> EndpointModel {
    let example = match kind {
        Kind::Secure => "#[secure(get, path = \"/orders/{id}\", scope = \"orders:read\")]",
        Kind::Public => "#[public(get, path = \"/health\")]",
    };
    let method = match args.methods.as_slice() {
        [] if args.unknown_method => "Get",
        [] => {
            errors.at(
                Span::call_site(),
                format!(
                    "missing HTTP method: start with one of {}, as in `{example}`",
                    METHODS.join(", ")
                ),
            );
            "Get"
        }
        [first, rest @ ..] => {
            for extra in rest {
                errors.at(
                    extra.span(),
                    "an endpoint has one method; declare another handler for this one",
                );
            }
            method_variant(&first.to_string())
        }
    };

    let (path, params, path_known) = match &args.path {
        None => {
            errors.at(
                Span::call_site(),
                format!("missing `path = \"/...\"`, as in `{example}`"),
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
    };

    let mut all_scopes = Vec::new();
    if let (Some(_), Some(list)) = (&args.scope, &args.scopes) {
        errors.at(
            list.span,
            "give `scope = \"...\"` for one scope or `scopes = [...]` for several, not both",
        );
    }
    all_scopes.extend(args.scope.iter().cloned());
    all_scopes.extend(non_empty(args.scopes.as_ref(), "scopes", errors));
    let any_scopes = non_empty(args.any_scope.as_ref(), "any_scope", errors);
    let roles = non_empty(args.roles.as_ref(), "roles", errors);
    for scope in all_scopes.iter().chain(&any_scopes) {
        if let Err(message) = scope_token(&scope.value()) {
            errors.at(scope.span(), message);
        }
    }
    check_unique(&all_scopes, "scope", errors);
    check_unique(&any_scopes, "scope", errors);
    for role in &roles {
        if role.value().is_empty() || role.value().contains(char::is_whitespace) {
            errors.at(role.span(), "a role is a non-empty name without spaces");
        }
    }
    check_unique(&roles, "role", errors);
    let has_requirement = !all_scopes.is_empty()
        || !any_scopes.is_empty()
        || !roles.is_empty()
        || args.policy.is_some();
    if kind == Kind::Secure && !has_requirement && errors.is_empty() {
        errors.at(
            Span::call_site(),
            "`#[secure]` needs at least one requirement: `scope = \"...\"`, `scopes = [...]`, \
             `any_scope = [...]`, `roles = [...]` or `policy = path::to::fn`; \
             use `#[public(...)]` for an endpoint anyone may call",
        );
    }

    let rate = rate_model(&args, errors);
    let rate_key = rate_key_model(kind, &args, errors);
    if let (Some(key), RateModel::Unlimited) = (&args.rate_key, rate) {
        errors.at(
            key.span(),
            "`rate_key` has nothing to count with `rate = \"unlimited\"`",
        );
    }

    let body_limit = args
        .body_limit
        .as_ref()
        .and_then(|lit| match lit.base10_parse::<usize>() {
            Ok(0) | Err(_) => {
                errors.at(lit.span(), "`body_limit` is a number of bytes, at least 1");
                None
            }
            Ok(bytes) => Some(bytes),
        });
    for tag in &args.tags {
        if tag.value().trim().is_empty() {
            errors.at(tag.span(), "a tag is a non-empty name");
        }
    }
    if let Some(id) = &args.operation_id {
        let value = id.value();
        if value.is_empty()
            || !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            errors.at(
                id.span(),
                "an operation id is made of letters, digits, `_`, `-` and `.`",
            );
        }
    }

    let status = args.status.as_ref().and_then(|lit| match lit.base10_parse::<u16>() {
        Ok(code @ 200..=399) => Some((code, lit.span())),
        _ => {
            errors.at(lit.span(), "`status` is the success status, from 200 to 399; declare errors with `errors(...)`");
            None
        }
    });
    let mut declared_errors: Vec<(u16, LitStr)> = Vec::new();
    for (lit, description) in &args.errors {
        match lit.base10_parse::<u16>() {
            Ok(code @ 400..=599) if !declared_errors.iter().any(|(known, _)| *known == code) => {
                declared_errors.push((code, description.clone()));
            }
            Ok(code @ 400..=599) => {
                errors.at(lit.span(), format!("the status {code} is listed twice"))
            }
            _ => errors.at(lit.span(), "an error status is from 400 to 599"),
        }
    }

    EndpointModel {
        kind,
        method,
        path,
        params,
        path_known,
        all_scopes,
        any_scopes,
        roles,
        policy: args.policy,
        rate,
        rate_key,
        body_limit,
        tags: args.tags,
        operation_id: args.operation_id,
        status,
        errors: declared_errors,
    }
}

fn method_variant(method: &str) -> &'static str {
    match method {
        "post" => "Post",
        "put" => "Put",
        "patch" => "Patch",
        "delete" => "Delete",
        "head" => "Head",
        "options" => "Options",
        _ => "Get",
    }
}

fn non_empty(list: Option<&StrList>, key: &str, errors: &mut Errors) -> Vec<LitStr> {
    match list {
        Some(list) if list.items.is_empty() => {
            errors.at(
                list.span,
                format!("`{key}` is empty; list at least one, or leave `{key}` out"),
            );
            Vec::new()
        }
        Some(list) => list.items.clone(),
        None => Vec::new(),
    }
}

fn check_unique(items: &[LitStr], what: &str, errors: &mut Errors) {
    for (index, item) in items.iter().enumerate() {
        if items[..index]
            .iter()
            .any(|earlier| earlier.value() == item.value())
        {
            errors.at(
                item.span(),
                format!("the {what} \"{}\" is listed twice", item.value()),
            );
        }
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn scope_token(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Err("a scope cannot be empty".to_owned());
    }
    match scope
        .chars()
        .find(|c| !matches!(*c as u32, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    {
        None => Ok(()),
        Some(bad) => Err(format!(
            "the scope \"{scope}\" contains {bad:?}; a scope is visible ASCII without spaces, `\"` or `\\` (RFC 6749 §3.3)"
        )),
    }
}

fn rate_model(args: &EndpointArgs, errors: &mut Errors) -> RateModel {
    let parsed = match &args.rate {
        None => None,
        Some(lit) => match rate::parse(&lit.value()) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                errors.at(lit.span(), message);
                None
            }
        },
    };
    let burst = args.burst.as_ref().and_then(|lit| {
        if args.rate.is_none() {
            errors.at(
                lit.span(),
                "`burst` needs a `rate` on the same endpoint, like `rate = \"100/min\", burst = 10`",
            );
            return None;
        }
        match lit.base10_parse::<u32>() {
            Ok(0) | Err(_) => {
                errors.at(lit.span(), "`burst` is the number of requests allowed at once: from 1 to 4294967295");
                None
            }
            Ok(burst) => Some((burst, lit.span())),
        }
    });
    match parsed {
        None => RateModel::Default,
        Some(ParsedRate::Unlimited) => {
            if let Some((_, span)) = burst {
                errors.at(span, "`burst` has no meaning with `rate = \"unlimited\"`");
            }
            RateModel::Unlimited
        }
        Some(ParsedRate::Limit { count, period_secs }) => RateModel::Limit {
            count,
            period_secs,
            burst: burst.map_or(count, |(burst, _)| burst),
        },
    }
}

/// Checks the handler's arguments against the attribute: no principal in a public
/// endpoint, and `Path<..>` matching the path's parameters.
pub(crate) fn check_handler(
    model: &EndpointModel,
    path_lit: Option<&LitStr>,
    handler: &str,
    args: &[HandlerArg],
    errors: &mut Errors,
) {
    if model.kind == Kind::Public {
        for arg in args {
            if let Some(name) = authenticated_extractor(&arg.ty) {
                errors.at(
                    arg.ty.span(),
                    format!(
                        "a `#[public]` endpoint authenticates no one, so it has no `{name}`: \
                         take `Option<{name}{}>` for callers who send a token anyway, \
                         or make the endpoint `#[secure(...)]`",
                        if name == "Claims" { "<..>" } else { "" }
                    ),
                );
            }
        }
    }
    let (Some(path_lit), true) = (path_lit, model.path_known) else {
        return;
    };
    let params = &model.params;
    let listed = params
        .iter()
        .map(|param| format!("`{{{param}}}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut found_path = false;
    for arg in args {
        match path_arity(&arg.ty) {
            PathArity::NotPath => {}
            PathArity::Unknown => found_path = true,
            PathArity::Known(arity, span) => {
                found_path = true;
                if params.is_empty() {
                    errors.at(
                        span,
                        format!(
                            "`{handler}` takes `Path<..>` but the path \"{}\" has no parameters",
                            model.path
                        ),
                    );
                } else if arity != params.len() {
                    errors.at(
                        span,
                        format!(
                            "the path \"{}\" has {} parameter{} ({listed}) but this `Path<..>` takes {arity}",
                            model.path,
                            params.len(),
                            if params.len() == 1 { "" } else { "s" },
                        ),
                    );
                }
            }
        }
    }
    if !params.is_empty() && !found_path {
        errors.at(
            path_lit.span(),
            format!(
                "the path has parameter{} {listed} but `{handler}` takes no `Path<..>` argument; \
                 add one, like `Path({}): Path<{}>`",
                if params.len() == 1 { "" } else { "s" },
                params.join(", "),
                if params.len() == 1 {
                    "String".to_owned()
                } else {
                    format!("({})", vec!["String"; params.len()].join(", "))
                },
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn check(kind: Kind, tokens: TokenStream) -> (EndpointModel, String) {
        let mut errors = Errors::default();
        let args = attr::parse(kind, tokens, &mut errors);
        let model = validate(kind, args, &mut errors);
        (model, errors.to_compile_errors().to_string())
    }

    #[test]
    fn a_full_endpoint_is_valid() {
        let (model, errors) = check(
            Kind::Secure,
            quote!(
                post,
                path = "/orders/{id}",
                scopes = ["a", "b"],
                rate = "10/min",
                burst = 3,
                rate_key = subject
            ),
        );
        assert_eq!(errors, "");
        assert_eq!(model.method, "Post");
        assert_eq!(model.params, vec!["id"]);
        assert_eq!(
            model.rate,
            RateModel::Limit {
                count: 10,
                period_secs: 60,
                burst: 3
            }
        );
        assert_eq!(model.rate_key, RateKeyModel::Builtin("Subject"));
    }

    #[test]
    fn rules_between_arguments() {
        let cases: [(Kind, TokenStream, &str); 13] = [
            (
                Kind::Secure,
                quote!(path = "/a", scope = "x"),
                "missing HTTP method",
            ),
            (Kind::Secure, quote!(get, scope = "x"), "missing `path"),
            (
                Kind::Secure,
                quote!(get, post, path = "/a", scope = "x"),
                "one method",
            ),
            (
                Kind::Secure,
                quote!(get, path = "a", scope = "x"),
                "must start with `/`",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a"),
                "needs at least one requirement",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a", scope = "x", burst = 5),
                "`burst` needs a `rate`",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a", scope = "x", rate = "0/s"),
                "at least one request",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a", scope = "x", rate = "5/s", burst = 0),
                "from 1 to",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a", scopes = []),
                "`scopes` is empty",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a", scope = "has space"),
                "without spaces",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a", scope = "x", rate_key = clinet),
                "(did you mean `client`?)",
            ),
            (
                Kind::Public,
                quote!(get, path = "/a", rate_key = client),
                "use `rate_key = ip`",
            ),
            (
                Kind::Secure,
                quote!(get, path = "/a", scope = "x", scopes = ["y"]),
                "not both",
            ),
        ];
        for (kind, tokens, expected) in cases {
            let shown = tokens.to_string();
            let (_, errors) = check(kind, tokens);
            assert!(errors.contains(expected), "{shown}: {errors}");
        }
    }

    #[test]
    fn public_endpoints_default_to_ip_keys() {
        let (model, errors) = check(Kind::Public, quote!(get, path = "/health"));
        assert_eq!(errors, "");
        assert_eq!(model.rate_key, RateKeyModel::Builtin("Ip"));
        assert_eq!(model.rate, RateModel::Default);
    }
}
