//! Custom rate keys: `rate_key = path::to::fn` counts requests under what a function of
//! the request and its caller picks, such as a tenant from a claim.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::authz::PolicyRequest;

/// The signature of a key function: `rate_key = path::to::fn` in `#[secure]`. It sees what
/// a policy sees (the verified caller, the request head, the path parameters) and returns
/// the key, or `None` to count the request per client as usual.
pub type KeyFn = fn(&PolicyRequest<'_>) -> Option<CustomRateKey>;

/// A key function, as the attribute records it.
#[derive(Clone, Copy)]
pub struct RateKeyFn {
    /// The path written in the attribute, for the inventory and the OpenAPI document.
    pub name: &'static str,
    /// The function.
    pub key: KeyFn,
}

impl fmt::Debug for RateKeyFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RateKeyFn").field(&self.name).finish()
    }
}

/// Key functions are told apart by the path written in the attribute.
impl PartialEq for RateKeyFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for RateKeyFn {}

impl Hash for RateKeyFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The key a key function picked.
///
/// A value the client sends (a header, a path parameter, a query) is combined with the
/// client's identity ([`CustomRateKey::new`]): the bucket is the client's own for that
/// value, so no value a client sends reaches another client's bucket or a shared one. A
/// client sending many values has a bucket for each, so keep such values to a set a policy
/// bounds (the projects a client may work on). A value the client cannot choose, such as a
/// claim of its verified token naming its tenant, can be shared by every client that
/// carries it ([`CustomRateKey::shared`]).
///
/// ```
/// use portcullis_runtime::PolicyRequest;
/// use portcullis_runtime::rate::CustomRateKey;
///
/// /// One quota per tenant, shared by every client of the tenant.
/// fn tenant(request: &PolicyRequest<'_>) -> Option<CustomRateKey> {
///     let tenant = request.principal().claim("tenant")?.as_str()?;
///     Some(CustomRateKey::shared(tenant))
/// }
///
/// /// One quota per project of each client: a path parameter, so the client's own.
/// fn project(request: &PolicyRequest<'_>) -> Option<CustomRateKey> {
///     request.path_param("project").map(CustomRateKey::new)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRateKey {
    value: String,
    shared: bool,
}

impl CustomRateKey {
    /// A key from what the client sends: counted per client and per `value`.
    pub fn new(value: impl Into<String>) -> Self {
        CustomRateKey {
            value: value.into(),
            shared: false,
        }
    }

    /// A key the function vouches for (a claim of the verified token): every client with
    /// the same `value` shares one bucket.
    pub fn shared(value: impl Into<String>) -> Self {
        CustomRateKey {
            value: value.into(),
            shared: true,
        }
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether clients with the same value share one bucket.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The identity the request is counted under, for a caller whose own key is `client`:
    /// separated from client identities (which a key function's fallback counts under) so
    /// that a value never lands in a client's bucket.
    pub(crate) fn identity(&self, client: Option<&str>) -> String {
        match (self.shared, client) {
            (true, _) => format!("\u{1e}shared\u{1f}{}", self.value),
            (false, Some(client)) => format!("\u{1e}client\u{1f}{client}\u{1f}{}", self.value),
            (false, None) => format!("\u{1e}anonymous\u{1f}{}", self.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_client_are_counted_per_client() {
        let key = CustomRateKey::new("project-1");
        assert_ne!(key.identity(Some("a")), key.identity(Some("b")));
        assert_ne!(key.identity(Some("a")), "a");
        let shared = CustomRateKey::shared("acme");
        assert_eq!(shared.identity(Some("a")), shared.identity(Some("b")));
        // A shared value never meets a per-client one, nor a client id.
        assert_ne!(
            shared.identity(None),
            CustomRateKey::new("acme").identity(None)
        );
        assert_ne!(shared.identity(None), "acme");
    }
}
