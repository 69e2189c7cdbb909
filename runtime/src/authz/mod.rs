//! Authorization: scopes as bit sets, roles, policies, and the decision for a request.

mod policy;
mod scope;

pub use policy::{Policy, PolicyDecision, PolicyFn, PolicyRequest};
pub use scope::{MAX_SCOPES, ScopeDecl, ScopeRegistry, ScopeSet};

use crate::auth::Principal;

/// What an endpoint requires of its caller, beyond a valid token.
#[derive(Debug, Clone, Copy)]
pub struct Requirements {
    /// The registry the scope sets index into; `None` when no scope is required.
    pub registry: Option<&'static ScopeRegistry>,
    /// Scopes that must all be granted.
    pub all_scopes: ScopeSet,
    /// Their names, as written in the attribute.
    pub all_scope_names: &'static [&'static str],
    /// Scopes of which at least one must be granted (none: no such requirement).
    pub any_scopes: ScopeSet,
    /// Their names.
    pub any_scope_names: &'static [&'static str],
    /// Roles that must all be held.
    pub roles: &'static [&'static str],
    /// A policy that must allow.
    pub policy: Option<Policy>,
    /// Only DPoP-bound tokens, with their proofs (`#[secure(..., dpop)]`): a bearer token
    /// is refused (`dpop_required`), whatever its issuer's mode.
    pub dpop: bool,
}

/// Why the scope and role checks refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Scope,
    Role,
}

impl Requirements {
    /// Checks scopes and roles (the policy is run separately, as it needs the request).
    #[inline]
    pub(crate) fn check(&self, principal: &Principal) -> Result<(), Refusal> {
        let granted = principal.scope_set();
        if !granted.contains_all(self.all_scopes) {
            return Err(Refusal::Scope);
        }
        if !self.any_scopes.is_empty() && !granted.intersects(self.any_scopes) {
            return Err(Refusal::Scope);
        }
        if !self.roles.iter().all(|role| principal.has_role(role)) {
            return Err(Refusal::Role);
        }
        Ok(())
    }

    /// The scopes to name in `WWW-Authenticate` when refusing: the all-of set, then the
    /// any-of set.
    pub(crate) fn scope_hint(&self) -> impl Iterator<Item = &'static str> {
        self.all_scope_names
            .iter()
            .chain(self.any_scope_names.iter())
            .copied()
    }
}
