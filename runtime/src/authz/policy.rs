//! Attribute-based policies: a function that decides over the principal and the request.

use std::borrow::Cow;

use http::request::Parts;

use crate::auth::Principal;

/// What a policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    /// The request may proceed.
    Allow,
    /// The request is refused with 403; the reason goes to the audit log only.
    Deny(Cow<'static, str>),
}

impl PolicyDecision {
    /// Allow when `condition` holds, else deny with `reason`.
    pub fn allow_if(condition: bool, reason: impl Into<Cow<'static, str>>) -> PolicyDecision {
        if condition {
            PolicyDecision::Allow
        } else {
            PolicyDecision::Deny(reason.into())
        }
    }
}

/// The signature of a policy: `policy = path::to::fn` in `#[secure]`.
pub type PolicyFn = fn(&PolicyRequest<'_>) -> PolicyDecision;

/// What a policy sees: the authenticated principal, the request head, the endpoint and the
/// raw path parameters. The body has not been read.
///
/// ```
/// use portcullis_runtime::{PolicyDecision, PolicyRequest};
///
/// /// Users may read only their own profile; admins any.
/// fn own_profile(request: &PolicyRequest<'_>) -> PolicyDecision {
///     let principal = request.principal();
///     let own = request.path_param("user") == principal.subject();
///     PolicyDecision::allow_if(own || principal.has_role("admin"), "not the profile owner")
/// }
/// ```
#[derive(Debug)]
pub struct PolicyRequest<'a> {
    principal: &'a Principal,
    parts: &'a Parts,
    handler: &'static str,
    route: &'static str,
    path_params: &'a [(String, String)],
}

impl<'a> PolicyRequest<'a> {
    pub(crate) fn new(
        principal: &'a Principal,
        parts: &'a Parts,
        (handler, route): (&'static str, &'static str),
        path_params: &'a [(String, String)],
    ) -> Self {
        PolicyRequest {
            principal,
            parts,
            handler,
            route,
            path_params,
        }
    }

    /// The authenticated caller.
    pub fn principal(&self) -> &'a Principal {
        self.principal
    }

    /// The request head: method, URI, headers, extensions.
    pub fn parts(&self) -> &'a Parts {
        self.parts
    }

    /// The name of the endpoint's handler, as in its audit events and the inventory.
    pub fn handler(&self) -> &'static str {
        self.handler
    }

    /// The path the endpoint answers at, prefixes included, such as `/api/v1/orders/{id}`.
    pub fn route(&self) -> &'static str {
        self.route
    }

    /// The percent-decoded value of the path parameter `name`, such as `id` in
    /// `/orders/{id}`.
    pub fn path_param(&self, name: &str) -> Option<&'a str> {
        self.path_params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A named policy function, as the attribute records it.
#[derive(Clone, Copy)]
pub struct Policy {
    /// The path written in the attribute, for the inventory and audit.
    pub name: &'static str,
    /// The function.
    pub check: PolicyFn,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Policy").field(&self.name).finish()
    }
}
