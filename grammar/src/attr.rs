//! Parsing `#[secure(...)]` and `#[public(...)]` arguments into a plain model.
//!
//! Parsing only reads tokens into [`EndpointArgs`]; the rules between them (a method is
//! required, `burst` needs `rate`, ...) are checked in `valid.rs`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Ident, Lit, LitInt, LitStr, Meta, Token};

use crate::errors::Errors;
use crate::suggest::did_you_mean;

/// Which attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[secure(...)]`.
    Secure,
    /// `#[public(...)]`.
    Public,
}

impl Kind {
    /// The attribute's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Secure => "secure",
            Kind::Public => "public",
        }
    }
}

/// The HTTP methods the grammar knows.
pub const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// A value in the attribute: `key = expr` or `key(...)`.
enum Value {
    Expr(Expr),
    List(syn::MetaList),
}

/// `404 = "no such order"` in `errors(...)`.
struct ErrorEntry {
    status: LitInt,
    description: LitStr,
}

impl syn::parse::Parse for ErrorEntry {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let status = input.parse()?;
        input.parse::<Token![=]>()?;
        let description = input.parse()?;
        Ok(ErrorEntry {
            status,
            description,
        })
    }
}

/// A list of string literals, with the span of the whole list.
#[derive(Debug, Clone)]
pub struct StrList {
    /// The span of the whole list.
    pub span: Span,
    /// The literals, in order.
    pub items: Vec<LitStr>,
}

/// Everything written in the attribute, as written.
#[derive(Debug, Default)]
pub struct EndpointArgs {
    /// The bare method words (`get`, ...), in order.
    pub methods: Vec<Ident>,
    /// A bare word that is no method was written (and reported).
    pub unknown_method: bool,
    /// `path = "..."`.
    pub path: Option<LitStr>,
    /// `scope = "..."`.
    pub scope: Option<LitStr>,
    /// `scopes = [...]`.
    pub scopes: Option<StrList>,
    /// `any_scope = [...]`.
    pub any_scope: Option<StrList>,
    /// `roles = [...]`.
    pub roles: Option<StrList>,
    /// `policy = path::to::fn`.
    pub policy: Option<syn::Path>,
    /// `rate = "..."`.
    pub rate: Option<LitStr>,
    /// `burst = N`.
    pub burst: Option<LitInt>,
    /// `rate_key = client|subject|ip|global`, or `rate_key = path::to::fn`, as written.
    pub rate_key: Option<syn::Path>,
    /// `body_limit = N`.
    pub body_limit: Option<LitInt>,
    /// Every `tag`, in order.
    pub tags: Vec<LitStr>,
    /// `operation_id = "..."`.
    pub operation_id: Option<LitStr>,
    /// `status = N`.
    pub status: Option<LitInt>,
    /// `errors(N = "...", ...)`.
    pub errors: Vec<(LitInt, LitStr)>,
    /// The bare word `dpop`: only DPoP-bound tokens, with their proofs.
    pub dpop: Option<Ident>,
    /// The keys seen, to report duplicates.
    seen: Vec<Ident>,
}

const SECURE_KEYS: [&str; 14] = [
    "path",
    "scope",
    "scopes",
    "any_scope",
    "roles",
    "policy",
    "rate",
    "burst",
    "rate_key",
    "body_limit",
    "tag",
    "operation_id",
    "status",
    "errors",
];
const PUBLIC_KEYS: [&str; 9] = [
    "path",
    "rate",
    "burst",
    "rate_key",
    "body_limit",
    "tag",
    "operation_id",
    "status",
    "errors",
];
/// The bare word that makes a `#[secure]` endpoint take DPoP-bound tokens only.
const DPOP: &str = "dpop";
const REQUIREMENT_KEYS: [&str; 5] = ["scope", "scopes", "any_scope", "roles", "policy"];

/// Parses the attribute's tokens. Every mistake is recorded in `errors`; what could be
/// read is returned regardless, so the expansion can go on.
pub fn parse(kind: Kind, tokens: TokenStream, errors: &mut Errors) -> EndpointArgs {
    let mut args = EndpointArgs::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas,
        Err(error) => {
            errors.push(error);
            return args;
        }
    };
    for meta in metas {
        args.read(kind, meta, errors);
    }
    args
}

impl EndpointArgs {
    fn read(&mut self, kind: Kind, meta: Meta, errors: &mut Errors) {
        let name = match meta.path().get_ident() {
            Some(ident) => ident.clone(),
            None => {
                errors.spanning(meta.path(), "expected a method or a `key = value` pair");
                return;
            }
        };
        let key = name.to_string();
        let value = match meta {
            Meta::Path(_) if key == DPOP => {
                self.read_dpop(kind, name, errors);
                return;
            }
            Meta::Path(_) => {
                self.read_method(name, errors);
                return;
            }
            Meta::NameValue(_) | Meta::List(_) if key == DPOP => {
                errors.at(
                    name.span(),
                    "`dpop` is written alone, as `dpop`: the endpoint then takes DPoP-bound \
                     tokens only",
                );
                return;
            }
            Meta::List(list) if key == "errors" => Value::List(list),
            Meta::List(list) => {
                errors.spanning(
                    &list,
                    format!(
                        "`{key}(...)` is not part of the `#[{}]` grammar",
                        kind.name()
                    ),
                );
                return;
            }
            Meta::NameValue(pair) if key == "errors" => {
                errors.spanning(
                    &pair,
                    "`errors` lists the statuses the handler returns, like `errors(404 = \"no such order\")`",
                );
                return;
            }
            Meta::NameValue(pair) => Value::Expr(pair.value),
        };
        let allowed: &[&str] = match kind {
            Kind::Secure => &SECURE_KEYS,
            Kind::Public => &PUBLIC_KEYS,
        };
        if !allowed.contains(&key.as_str()) {
            if kind == Kind::Public && REQUIREMENT_KEYS.contains(&key.as_str()) {
                errors.at(
                    name.span(),
                    format!(
                        "`#[public]` endpoints take no `{key}`: anyone may call them; \
                         use `#[secure(...)]` to require a token"
                    ),
                );
            } else if METHODS.contains(&key.as_str()) {
                errors.at(
                    name.span(),
                    format!("the method is written alone, as `{key}`, not `{key} = ...`"),
                );
            } else {
                errors.at(
                    name.span(),
                    format!(
                        "unknown key `{key}` in `#[{}]`{}; expected one of: {}",
                        kind.name(),
                        did_you_mean(&key, allowed.iter().copied()),
                        allowed.join(", ")
                    ),
                );
            }
            return;
        }
        if self.seen.contains(&name) {
            errors.at(name.span(), format!("`{key}` is given twice; keep one"));
            return;
        }
        self.seen.push(name.clone());
        let value = match value {
            Value::List(list) => {
                self.read_errors(list, errors);
                return;
            }
            Value::Expr(value) => value,
        };
        match key.as_str() {
            "path" => self.path = string(&value, &key, errors),
            "scope" => self.scope = string(&value, &key, errors),
            "scopes" => self.scopes = strings(&value, &key, errors),
            "any_scope" => self.any_scope = strings(&value, &key, errors),
            "roles" => self.roles = strings(&value, &key, errors),
            "policy" => match value {
                Expr::Path(path) if path.qself.is_none() => self.policy = Some(path.path),
                other => errors.spanning(
                    other,
                    "`policy` takes the path of a function, like `policy = crate::policies::owner`",
                ),
            },
            "rate" => self.rate = string(&value, &key, errors),
            "burst" => self.burst = integer(&value, &key, errors),
            "rate_key" => match value {
                Expr::Path(path) if path.qself.is_none() => self.rate_key = Some(path.path),
                other => errors.spanning(
                    other,
                    "`rate_key` is one of: client, subject, ip, global; or the path of a \
                     function choosing the key, like `rate_key = crate::limits::tenant`",
                ),
            },
            "body_limit" => self.body_limit = integer(&value, &key, errors),
            "tag" => match &value {
                Expr::Array(_) => {
                    if let Some(list) = strings(&value, &key, errors) {
                        self.tags.extend(list.items);
                    }
                }
                _ => self.tags.extend(string(&value, &key, errors)),
            },
            "operation_id" => self.operation_id = string(&value, &key, errors),
            "status" => self.status = integer(&value, &key, errors),
            _ => {}
        }
    }

    fn read_errors(&mut self, list: syn::MetaList, errors: &mut Errors) {
        let parser = Punctuated::<ErrorEntry, Token![,]>::parse_terminated;
        match list.parse_args_with(parser) {
            Ok(entries) => {
                self.errors.extend(entries.into_iter().map(|entry| (entry.status, entry.description)))
            }
            Err(error) => errors.push(syn::Error::new(
                error.span(),
                "`errors` lists statuses with a description, like `errors(404 = \"no such order\", 409 = \"...\")`",
            )),
        }
    }

    fn read_dpop(&mut self, kind: Kind, name: Ident, errors: &mut Errors) {
        if kind == Kind::Public {
            errors.at(
                name.span(),
                "`#[public]` endpoints take no `dpop`: they take no token at all; use \
                 `#[secure(..., dpop)]` to require a DPoP-bound token",
            );
            return;
        }
        if self.dpop.is_some() {
            errors.at(name.span(), "`dpop` is given twice; keep one");
            return;
        }
        self.dpop = Some(name);
    }

    fn read_method(&mut self, name: Ident, errors: &mut Errors) {
        let word = name.to_string();
        if METHODS.contains(&word.as_str()) {
            self.methods.push(name);
            return;
        }
        self.unknown_method = true;
        let known_key = SECURE_KEYS.contains(&word.as_str());
        let message = if known_key {
            format!("`{word}` needs a value: `{word} = ...`")
        } else {
            format!(
                "unknown method `{word}`{}; the method is one of: {}",
                did_you_mean(&word, METHODS),
                METHODS.join(", ")
            )
        };
        errors.at(name.span(), message);
    }
}

fn string(value: &Expr, key: &str, errors: &mut Errors) -> Option<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit.clone()),
        other => {
            errors.spanning(
                other,
                format!("`{key}` takes a string literal, like `{key} = \"...\"`"),
            );
            None
        }
    }
}

fn strings(value: &Expr, key: &str, errors: &mut Errors) -> Option<StrList> {
    let Expr::Array(ExprArray { elems, .. }) = value else {
        errors.spanning(
            value,
            format!("`{key}` takes a list of string literals, like `{key} = [\"a\", \"b\"]`"),
        );
        return None;
    };
    let mut items = Vec::new();
    for element in elems {
        items.extend(string(element, key, errors));
    }
    Some(StrList {
        span: value.span(),
        items,
    })
}

fn integer(value: &Expr, key: &str, errors: &mut Errors) -> Option<LitInt> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => Some(lit.clone()),
        other => {
            errors.spanning(
                other,
                format!("`{key}` takes an integer literal, like `{key} = 10`"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_ok(kind: Kind, tokens: TokenStream) -> EndpointArgs {
        let mut errors = Errors::default();
        let args = parse(kind, tokens, &mut errors);
        assert!(errors.is_empty(), "{}", errors.to_compile_errors());
        args
    }

    fn parse_err(kind: Kind, tokens: TokenStream) -> String {
        let mut errors = Errors::default();
        parse(kind, tokens, &mut errors);
        errors.to_compile_errors().to_string()
    }

    #[test]
    fn reads_the_full_grammar() {
        let args = parse_ok(
            Kind::Secure,
            quote!(
                get,
                path = "/o/{id}",
                scope = "a",
                scopes = ["b", "c"],
                any_scope = ["d"],
                roles = ["admin"],
                policy = crate::p::owner,
                rate = "10/s",
                burst = 5,
                rate_key = subject,
                body_limit = 1024,
                tag = "orders",
                operation_id = "getOrder"
            ),
        );
        assert_eq!(args.methods[0], "get");
        assert_eq!(args.path.unwrap().value(), "/o/{id}");
        assert_eq!(args.scope.unwrap().value(), "a");
        assert_eq!(args.scopes.unwrap().items.len(), 2);
        assert_eq!(args.any_scope.unwrap().items[0].value(), "d");
        assert_eq!(args.roles.unwrap().items[0].value(), "admin");
        let policy = args.policy.unwrap();
        assert_eq!(
            quote!(#policy).to_string(),
            quote!(crate::p::owner).to_string()
        );
        assert_eq!(args.rate.unwrap().value(), "10/s");
        assert_eq!(args.burst.unwrap().base10_parse::<u32>().unwrap(), 5);
        assert!(args.rate_key.unwrap().is_ident("subject"));
        assert_eq!(
            args.body_limit.unwrap().base10_parse::<usize>().unwrap(),
            1024
        );
        assert_eq!(args.tags[0].value(), "orders");
        assert_eq!(args.operation_id.unwrap().value(), "getOrder");
    }

    #[test]
    fn reports_unknown_duplicate_and_misplaced_keys() {
        assert!(
            parse_err(Kind::Secure, quote!(get, scop = "a"))
                .contains("unknown key `scop` in `#[secure]` (did you mean `scope`?)")
        );
        assert!(
            parse_err(Kind::Secure, quote!(get, path = "/a", path = "/b"))
                .contains("`path` is given twice")
        );
        assert!(
            parse_err(Kind::Public, quote!(get, scope = "a"))
                .contains("`#[public]` endpoints take no `scope`")
        );
        assert!(
            parse_err(Kind::Secure, quote!(gett))
                .contains("unknown method `gett` (did you mean `get`?)")
        );
        assert!(
            parse_err(Kind::Secure, quote!(get = "/x")).contains("the method is written alone")
        );
        assert!(parse_err(Kind::Secure, quote!(path)).contains("`path` needs a value"));
        assert!(
            parse_err(Kind::Secure, quote!(scope = 5)).contains("`scope` takes a string literal")
        );
        assert!(parse_err(Kind::Secure, quote!(scopes = "a")).contains("`scopes` takes a list"));
        assert!(parse_err(Kind::Secure, quote!(burst = "5")).contains("`burst` takes an integer"));
        assert!(parse_err(Kind::Secure, quote!(rate_key = "ip")).contains("`rate_key` is one of"));
        assert!(parse_err(Kind::Secure, quote!(policy = "f")).contains("`policy` takes the path"));
        assert!(parse_err(Kind::Secure, quote!(get path)).contains("expected"));
    }
}
