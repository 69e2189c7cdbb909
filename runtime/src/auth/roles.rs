//! Where a token's roles are: a claim path, or the layout of a known provider.

use serde_json::{Map, Value};

/// Where the roles of a principal are read from a token.
///
/// ```
/// use portcullis_runtime::RolesClaim;
///
/// let keycloak = RolesClaim::keycloak();     // realm roles, and "client:role" for client roles
/// let entra = RolesClaim::entra_id();        // the `roles` claim
/// let auth0 = RolesClaim::auth0("https://orders.example.com/"); // a namespaced claim
/// let custom = RolesClaim::path("authorization.roles");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolesClaim {
    /// A dotted path into the claims, like `roles` or `realm_access.roles`; the value is an
    /// array of strings or a space-delimited string.
    Path(Vec<String>),
    /// One claim whose name may contain dots (Auth0's namespaced claims are URLs).
    Exact(String),
    /// Keycloak: `realm_access.roles` as they are, and each client's
    /// `resource_access.<client>.roles` qualified as `<client>:<role>`, so that a role of one
    /// client is never taken for a realm role or another client's role. Realm roles that
    /// contain `:` are ignored: they could pass for a client's role.
    Keycloak,
}

impl RolesClaim {
    /// The claim at a dotted `path`.
    pub fn path(path: &str) -> RolesClaim {
        RolesClaim::Path(path.split('.').map(str::to_owned).collect())
    }

    /// Keycloak's realm and client roles.
    pub fn keycloak() -> RolesClaim {
        RolesClaim::Keycloak
    }

    /// Microsoft Entra ID: app roles in the `roles` claim.
    pub fn entra_id() -> RolesClaim {
        RolesClaim::path("roles")
    }

    /// Auth0: roles added by an Action under a namespaced claim, `{namespace}roles`
    /// (Auth0's RBAC permissions are read as scopes, from `permissions`).
    pub fn auth0(namespace: &str) -> RolesClaim {
        RolesClaim::Exact(format!("{namespace}roles"))
    }

    /// The roles in `claims`. `Err(())` when the claim has the wrong shape.
    pub(crate) fn read(
        &self,
        claims: &Map<String, Value>,
        out: &mut Vec<String>,
    ) -> Result<(), ()> {
        match self {
            RolesClaim::Path(path) => {
                let Some((first, rest)) = path.split_first() else {
                    return Ok(());
                };
                let found = rest.iter().try_fold(claims.get(first), |value, key| {
                    Ok::<_, ()>(value.and_then(|v| v.get(key)))
                })?;
                found.map_or(Ok(()), |value| push_words(value, out))
            }
            RolesClaim::Exact(name) => claims
                .get(name)
                .map_or(Ok(()), |value| push_words(value, out)),
            RolesClaim::Keycloak => {
                if let Some(realm) = claims
                    .get("realm_access")
                    .and_then(|realm| realm.get("roles"))
                {
                    let mut roles = Vec::new();
                    push_words(realm, &mut roles)?;
                    out.extend(roles.into_iter().filter(|role| !role.contains(':')));
                }
                if let Some(Value::Object(clients)) = claims.get("resource_access") {
                    for (client, access) in clients {
                        let mut roles = Vec::new();
                        if let Some(value) = access.get("roles") {
                            push_words(value, &mut roles)?;
                        }
                        out.extend(roles.into_iter().map(|role| format!("{client}:{role}")));
                    }
                }
                Ok(())
            }
        }
    }
}

impl Default for RolesClaim {
    fn default() -> Self {
        RolesClaim::path("roles")
    }
}

/// Appends the words of a space-delimited string or the strings of an array.
pub(crate) fn push_words(value: &Value, out: &mut Vec<String>) -> Result<(), ()> {
    match value {
        Value::String(words) => out.extend(
            words
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
        ),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(word) => out.push(word.clone()),
                    _ => return Err(()),
                }
            }
        }
        _ => return Err(()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(claim: RolesClaim, claims: &str) -> Result<Vec<String>, ()> {
        let claims: Map<String, Value> = serde_json::from_str(claims).unwrap();
        let mut out = Vec::new();
        claim.read(&claims, &mut out).map(|()| out)
    }

    #[test]
    fn paths_and_exact_names() {
        let claims =
            r#"{"realm_access":{"roles":["admin"]},"roles":"a b","https://x.test/roles":["r"]}"#;
        assert_eq!(
            roles(RolesClaim::path("realm_access.roles"), claims).unwrap(),
            ["admin"]
        );
        assert_eq!(roles(RolesClaim::default(), claims).unwrap(), ["a", "b"]);
        assert_eq!(roles(RolesClaim::entra_id(), claims).unwrap(), ["a", "b"]);
        assert_eq!(
            roles(RolesClaim::auth0("https://x.test/"), claims).unwrap(),
            ["r"]
        );
        assert_eq!(
            roles(RolesClaim::path("realm_access.missing"), claims).unwrap(),
            Vec::<String>::new()
        );
        assert!(roles(RolesClaim::path("roles"), r#"{"roles":[1]}"#).is_err());
    }

    #[test]
    fn keycloak_client_roles_are_qualified() {
        let claims = r#"{
            "realm_access": {"roles": ["user"]},
            "resource_access": {"orders-api": {"roles": ["admin"]}, "account": {"roles": ["view"]}}
        }"#;
        let mut found = roles(RolesClaim::keycloak(), claims).unwrap();
        found.sort();
        assert_eq!(found, ["account:view", "orders-api:admin", "user"]);
        assert!(
            !found.contains(&"admin".to_owned()),
            "a client role is never a realm role"
        );
    }
}
