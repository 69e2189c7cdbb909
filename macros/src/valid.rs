//! The rules between the attribute's arguments, and between the attribute and the handler.
//! Every rule breaks with a spanned error saying how to fix it. Reading each value into the
//! model is `model.rs`'s.

use proc_macro2::Span;
use syn::{LitStr, spanned::Spanned};

use crate::attr::{EndpointArgs, Kind, StrList};
use crate::errors::Errors;
use crate::handler::{HandlerArg, PathArity, path_arity};
use crate::model::EndpointModel;
use crate::rate::{self, ParsedRate};

/// Checks the rules between the arguments of `args`; records every broken rule.
pub(crate) fn check(kind: Kind, args: &EndpointArgs, errors: &mut Errors) {
    for extra in args.methods.iter().skip(1) {
        errors.at(
            extra.span(),
            "an endpoint has one method; declare another handler for this one",
        );
    }
    check_requirements(kind, args, errors);
    check_rate(args, errors);
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
}

/// Scopes, roles and policy: well-formed, each once, and at least one on `#[secure]`.
fn check_requirements(kind: Kind, args: &EndpointArgs, errors: &mut Errors) {
    if let (Some(_), Some(list)) = (&args.scope, &args.scopes) {
        errors.at(
            list.span,
            "give `scope = \"...\"` for one scope or `scopes = [...]` for several, not both",
        );
    }
    let mut all_scopes: Vec<&LitStr> = args.scope.iter().collect();
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
}

/// `burst` and `rate_key` need a rate they apply to.
fn check_rate(args: &EndpointArgs, errors: &mut Errors) {
    let unlimited = args
        .rate
        .as_ref()
        .is_some_and(|lit| matches!(rate::parse(&lit.value()), Ok(ParsedRate::Unlimited)));
    if let Some(burst) = &args.burst {
        if args.rate.is_none() {
            errors.at(
                burst.span(),
                "`burst` needs a `rate` on the same endpoint, like `rate = \"100/min\", burst = 10`",
            );
        } else if unlimited {
            errors.at(
                burst.span(),
                "`burst` has no meaning with `rate = \"unlimited\"`",
            );
        }
    }
    if let (Some(key), true) = (&args.rate_key, unlimited) {
        errors.at(
            key.span(),
            "`rate_key` has nothing to count with `rate = \"unlimited\"`",
        );
    }
}

fn non_empty<'a>(list: Option<&'a StrList>, key: &str, errors: &mut Errors) -> Vec<&'a LitStr> {
    match list {
        Some(list) if list.items.is_empty() => {
            errors.at(
                list.span,
                format!("`{key}` is empty; list at least one, or leave `{key}` out"),
            );
            Vec::new()
        }
        Some(list) => list.items.iter().collect(),
        None => Vec::new(),
    }
}

fn check_unique(items: &[&LitStr], what: &str, errors: &mut Errors) {
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

/// A scope written in an attribute or `scopes!` is an RFC 6749 scope token.
pub(crate) fn scope_token(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Err("a scope cannot be empty".to_owned());
    }
    match portcullis_grammar::scope::first_invalid_char(scope) {
        None => Ok(()),
        Some(bad) => Err(format!(
            "the scope \"{scope}\" contains {bad:?}; a scope is visible ASCII without spaces, `\"` or `\\` (RFC 6749 §3.3)"
        )),
    }
}

/// Checks the handler's arguments against the attribute: `Path<..>` matching the path's
/// parameters. (What depends on the arguments' types is checked by the generated code.)
pub(crate) fn check_handler(
    model: &EndpointModel,
    path_lit: Option<&LitStr>,
    handler: &str,
    args: &[HandlerArg],
    errors: &mut Errors,
) {
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
    use crate::model::{BuiltinKey, Method, RateKeyModel, RateModel};
    use proc_macro2::TokenStream;
    use quote::quote;

    fn check(kind: Kind, tokens: TokenStream) -> (EndpointModel, String) {
        let mut errors = Errors::default();
        let args = attr::parse(kind, tokens, &mut errors);
        let model = crate::model::build(kind, &args, &mut errors);
        super::check(kind, &args, &mut errors);
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
        assert_eq!(model.method, Method::Post);
        assert_eq!(model.params, vec!["id"]);
        assert_eq!(
            model.rate,
            RateModel::Limit {
                count: 10,
                period_secs: 60,
                burst: 3
            }
        );
        assert_eq!(model.rate_key, RateKeyModel::Builtin(BuiltinKey::Subject));
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
        assert_eq!(model.rate_key, RateKeyModel::Builtin(BuiltinKey::Ip));
        assert_eq!(model.rate, RateModel::Default);
    }
}
