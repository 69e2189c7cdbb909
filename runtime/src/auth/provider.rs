//! Where an issuer's signing keys come from: configured once, fetched from a JWKS URL and
//! kept fresh, or handed over by an in-process issuer.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{KeySet, RemoteJwks};

/// A future returned by [`KeyProvider`].
pub type KeysFuture<'a> = Pin<Box<dyn Future<Output = Arc<KeySet>> + Send + 'a>>;

/// A source of signing keys for one issuer.
///
/// [`RemoteJwks`] is one (keys fetched over HTTPS and refreshed); the development issuer is
/// another; a fixed [`KeySet`] is the simplest. Implement it to take keys from elsewhere
/// (a vault, a file that is watched).
pub trait KeyProvider: Debug + Send + Sync + 'static {
    /// The keys now. Called on every verification: it must not wait on I/O.
    fn current(&self) -> Arc<KeySet>;

    /// Whether `keys` are still the current ones. The verified-token cache asks on every
    /// hit, so that a token verified with keys since rotated out is verified again. The
    /// default compares with [`current`](KeyProvider::current); override it when that can
    /// be told without cloning the `Arc`.
    fn is_current(&self, keys: &Arc<KeySet>) -> bool {
        Arc::ptr_eq(keys, &self.current())
    }

    /// A token names `kid`, which `current()` lacks: look for it (at most once in a while,
    /// however many such tokens arrive) and return the keys to retry with. The default
    /// returns `current()`.
    fn refresh_for_unknown_kid<'a>(&'a self, kid: &'a str) -> KeysFuture<'a> {
        let _ = kid;
        Box::pin(std::future::ready(self.current()))
    }

    /// Receives the configuration's alerts, to report key fetches that fail. Called once
    /// when the configuration is built; the default ignores them.
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        let _ = alerts;
    }

    /// Whether keys are available, for [`Security::readiness`](crate::Security::readiness)
    /// and for the answer to tokens of this issuer: while it is
    /// [`Waiting`](KeyReadiness::Waiting) and [`current`](KeyProvider::current) is empty,
    /// they are refused with 503 and `Retry-After` instead of 401. Asked only when
    /// `current()` is empty, and by `readiness()`. The default is
    /// [`Ready`](KeyReadiness::Ready).
    fn readiness(&self) -> KeyReadiness {
        KeyReadiness::Ready
    }
}

/// Whether a [`KeyProvider`] has keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyReadiness {
    /// Keys are available. They may be stale: a remote JWKS keeps its keys while its
    /// refreshes fail.
    Ready,
    /// No key has arrived yet; attempts go on in the background.
    Waiting {
        /// When waiting began (when the configuration was built).
        since: SystemTime,
        /// Why the last attempt failed, for operators (URLs and causes, never a secret).
        last_error: String,
        /// How many attempts have failed.
        failures: u32,
        /// How long until the next attempt (zero while one is under way).
        retry_in: Duration,
    },
    /// The keys are fetched on the first token that needs them (a tenant of an issuer
    /// template, see [`Issuer::discover_tenants`](crate::Issuer::discover_tenants)), and no
    /// such token has come: nothing was fetched, and nothing waits. Counted as ready.
    NotRequested,
}

impl KeyReadiness {
    /// Whether keys are available, or not needed yet
    /// ([`NotRequested`](KeyReadiness::NotRequested)).
    pub fn is_ready(&self) -> bool {
        matches!(self, KeyReadiness::Ready | KeyReadiness::NotRequested)
    }
}

/// Keys that never change.
#[derive(Debug)]
pub struct StaticKeys(Arc<KeySet>);

impl StaticKeys {
    /// A provider of `keys`.
    pub fn new(keys: KeySet) -> Self {
        StaticKeys(Arc::new(keys))
    }
}

impl KeyProvider for StaticKeys {
    fn current(&self) -> Arc<KeySet> {
        self.0.clone()
    }

    fn is_current(&self, keys: &Arc<KeySet>) -> bool {
        Arc::ptr_eq(keys, &self.0)
    }
}

impl KeyProvider for RemoteJwks {
    fn current(&self) -> Arc<KeySet> {
        RemoteJwks::current(self)
    }

    fn is_current(&self, keys: &Arc<KeySet>) -> bool {
        RemoteJwks::is_current(self, keys)
    }

    fn refresh_for_unknown_kid<'a>(&'a self, kid: &'a str) -> KeysFuture<'a> {
        Box::pin(RemoteJwks::refresh_for_unknown_kid(self, kid))
    }

    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        RemoteJwks::attach_alerts(self, alerts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_keys_are_current_only_for_their_own_set() {
        let provider = StaticKeys::new(KeySet::new());
        assert!(provider.is_current(&provider.current()));
        assert!(!provider.is_current(&Arc::new(KeySet::new())));
    }
}
