//! Registered clients: their secrets (in `secrecy` types, compared in constant time) and
//! the scopes each may request.

use std::collections::BTreeMap;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use secrecy::{ExposeSecret, SecretString};

use super::error::DevError;

/// What a registered client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// An application getting JWT access tokens.
    Jwt,
    /// An application getting opaque access tokens.
    Opaque,
    /// The resource server: it introspects tokens, and gets none.
    ResourceServer,
}

/// One registered client. Its `Debug` shows the scopes, never the secret.
pub(crate) struct Client {
    secret: SecretString,
    scopes: Vec<String>,
    kind: ClientKind,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("scopes", &self.scopes)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Whether `id` is a valid RFC 6749 client id: one or more visible ASCII characters or
/// spaces (`VSCHAR`, Appendix A.1).
fn valid_client_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|byte| (0x20..=0x7e).contains(&byte))
}

// Whether a token is a valid RFC 6749 scope token (§3.3).
pub(crate) use portcullis_grammar::scope::is_scope_token as valid_scope_token;

impl Client {
    /// A client, after checking its id, secret and scopes.
    pub(crate) fn new(
        id: &str,
        secret: SecretString,
        scopes: Vec<String>,
    ) -> Result<Client, DevError> {
        let invalid = |reason: String| DevError::InvalidClient {
            client_id: id.to_owned(),
            reason,
        };
        if !valid_client_id(id) {
            return Err(invalid(
                "a client id is one or more printable ASCII characters".into(),
            ));
        }
        if secret.expose_secret().is_empty() {
            return Err(invalid("the secret is empty".into()));
        }
        let mut unique: Vec<String> = Vec::with_capacity(scopes.len());
        for scope in scopes {
            if !valid_scope_token(&scope) {
                return Err(invalid(format!(
                    "{scope:?} is not a scope token (RFC 6749 section 3.3)"
                )));
            }
            if !unique.contains(&scope) {
                unique.push(scope);
            }
        }
        Ok(Client {
            secret,
            scopes: unique,
            kind: ClientKind::Jwt,
        })
    }

    /// This client, as a client of `kind`.
    pub(crate) fn with_kind(mut self, kind: ClientKind) -> Client {
        self.kind = kind;
        self
    }

    /// What the client is.
    pub(crate) fn kind(&self) -> ClientKind {
        self.kind
    }

    /// The scopes this client may request, in registration order.
    pub(crate) fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// The registered clients, by id.
#[derive(Debug, Default)]
pub(crate) struct Clients {
    by_id: BTreeMap<String, Client>,
}

/// What a presented secret is compared against when the client is unknown, so that the
/// answer takes as long as for a known client.
const UNKNOWN_CLIENT_DIGEST: [u8; 32] = [0; 32];

impl Clients {
    /// Registers `client` under `id`, replacing any client of that id.
    pub(crate) fn insert(&mut self, id: String, client: Client) {
        self.by_id.insert(id, client);
    }

    /// The client `id` if `secret` is its secret.
    ///
    /// Both secrets are hashed with SHA-256 and the digests compared in constant time, so
    /// that neither the content nor the length of the registered secret leaks through
    /// timing.
    pub(crate) fn authenticate(&self, id: &str, secret: &SecretString) -> Option<&Client> {
        let presented = digest(&SHA256, secret.expose_secret().as_bytes());
        match self.by_id.get(id) {
            Some(client) => {
                let expected = digest(&SHA256, client.secret.expose_secret().as_bytes());
                verify_slices_are_equal(expected.as_ref(), presented.as_ref())
                    .ok()
                    .map(|()| client)
            }
            None => {
                let _ = verify_slices_are_equal(&UNKNOWN_CLIENT_DIGEST, presented.as_ref());
                None
            }
        }
    }

    /// Every scope some client may request, sorted.
    pub(crate) fn all_scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self
            .by_id
            .values()
            .flat_map(|client| client.scopes.iter().cloned())
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    /// The registered client ids.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(secret: &str, scopes: &[&str]) -> Result<Client, DevError> {
        Client::new(
            "app",
            SecretString::from(secret),
            scopes.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    #[test]
    fn authenticates_only_the_right_secret() {
        let mut clients = Clients::default();
        clients.insert("app".into(), client("s3cret", &["a", "b", "a"]).unwrap());
        let found = clients.authenticate("app", &SecretString::from("s3cret"));
        assert_eq!(
            found.map(Client::scopes),
            Some(&["a".to_owned(), "b".into()][..])
        );
        assert!(
            clients
                .authenticate("app", &SecretString::from("s3cre"))
                .is_none()
        );
        assert!(
            clients
                .authenticate("app", &SecretString::from(""))
                .is_none()
        );
        assert!(
            clients
                .authenticate("other", &SecretString::from("s3cret"))
                .is_none()
        );
    }

    #[test]
    fn refuses_bad_registrations() {
        assert!(client("", &["a"]).is_err());
        assert!(client("x", &["a b"]).is_err());
        assert!(client("x", &["quote\"d"]).is_err());
        assert!(client("x", &[""]).is_err());
        assert!(Client::new("", SecretString::from("x"), vec![]).is_err());
        assert!(Client::new("a\nb", SecretString::from("x"), vec![]).is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let mut clients = Clients::default();
        clients.insert("app".into(), client("hunter2-secret", &["a"]).unwrap());
        assert!(!format!("{clients:?}").contains("hunter2"));
    }
}
