//! The keys of an issuer that have not arrived yet: discovery and the first JWKS fetch,
//! retried in the background with backoff until they succeed, then handed over to a
//! [`RemoteJwks`] and its refresh loop.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use reqwest::Client;
use tokio::sync::{oneshot, watch};
use tokio::task::AbortHandle;

use super::discovery::{DiscoveryError, discover_with};
use super::issuer_failure::IssuerFailure;
use super::keys::KeySet;
use super::provider::{KeyProvider, KeyReadiness, KeysFuture};
use super::remote::{JwksOptions, RemoteJwks, RemoteKeyError};
use crate::alert::{Alert, AlertHandle, AlertKind};

/// The first retry after a failed discovery or first key fetch comes this long after it.
pub const FIRST_KEY_RETRY: Duration = Duration::from_secs(1);

/// Retries of a discovery or first key fetch back off up to this long at most.
pub const LONGEST_KEY_RETRY: Duration = Duration::from_secs(60);

/// The delay before retry number `retry` (1 for the first) of an issuer whose keys have not
/// arrived yet, with `jitter` drawn uniformly from [0, 1].
///
/// The first retry comes after [`FIRST_KEY_RETRY`] exactly; each further one nominally after
/// twice the previous delay, up to [`LONGEST_KEY_RETRY`]; the jitter takes up to a quarter
/// off the nominal delay, so that instances started together do not retry together, and the
/// cap is never exceeded. A jitter outside [0, 1] counts as the nearest bound (not a number,
/// as 0).
///
/// ```
/// use portcullis_runtime::auth::key_retry_delay;
/// use std::time::Duration;
///
/// let nominal: Vec<u64> = (1..=8).map(|n| key_retry_delay(n, 0.0).as_secs()).collect();
/// assert_eq!(nominal, [1, 2, 4, 8, 16, 32, 60, 60]);
/// assert_eq!(key_retry_delay(3, 1.0), Duration::from_secs(3));
/// ```
pub fn key_retry_delay(retry: u32, jitter: f64) -> Duration {
    if retry <= 1 {
        return FIRST_KEY_RETRY;
    }
    let doublings = (retry - 1).min(16);
    let nominal = FIRST_KEY_RETRY
        .saturating_mul(1 << doublings)
        .min(LONGEST_KEY_RETRY);
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    nominal.mul_f64(1.0 - jitter / 4.0)
}

/// A number drawn uniformly from [0, 1), or 0 when the system's generator fails.
fn random_jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.0;
    }
    // 53 random bits: every value is a double, and the result stays below 1.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

impl IssuerFailure {
    fn of_discovery(error: &DiscoveryError) -> IssuerFailure {
        match error {
            DiscoveryError::Fetch { .. } | DiscoveryError::Client { .. } => {
                IssuerFailure::Connection
            }
            DiscoveryError::Timeout { .. } => IssuerFailure::Timeout,
            DiscoveryError::Redirected { .. } => IssuerFailure::Redirected,
            DiscoveryError::Status { .. } | DiscoveryError::NotFound { .. } => {
                IssuerFailure::HttpStatus
            }
            DiscoveryError::TooLarge { .. } => IssuerFailure::TooLarge,
            DiscoveryError::InvalidDocument { .. } | DiscoveryError::MissingJwksUri { .. } => {
                IssuerFailure::InvalidDocument
            }
            DiscoveryError::IssuerMismatch { .. } => IssuerFailure::IssuerMismatch,
            // The issuer itself is checked when the configuration is built; its `jwks_uri`
            // is the document's.
            DiscoveryError::InvalidJwksUri { .. }
            | DiscoveryError::InsecureJwksUri { .. }
            | DiscoveryError::InvalidIssuer { .. }
            | DiscoveryError::InsecureIssuer { .. } => IssuerFailure::RefusedUrl,
        }
    }

    fn of_jwks(error: &RemoteKeyError) -> IssuerFailure {
        match error {
            RemoteKeyError::Fetch { .. } | RemoteKeyError::Client { .. } => {
                IssuerFailure::Connection
            }
            RemoteKeyError::Timeout { .. } => IssuerFailure::Timeout,
            RemoteKeyError::Redirected { .. } => IssuerFailure::Redirected,
            RemoteKeyError::Status { .. } => IssuerFailure::HttpStatus,
            RemoteKeyError::TooLarge { .. } => IssuerFailure::TooLarge,
            RemoteKeyError::InvalidDocument { .. } => IssuerFailure::InvalidDocument,
            RemoteKeyError::NoUsableKeys { .. } => IssuerFailure::NoUsableKeys,
            RemoteKeyError::InvalidUrl { .. } | RemoteKeyError::InsecureUrl { .. } => {
                IssuerFailure::RefusedUrl
            }
        }
    }
}

impl fmt::Display for IssuerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error(transparent)]
    Discovery(DiscoveryError),
    #[error(transparent)]
    Jwks(RemoteKeyError),
}

impl LoadError {
    fn kind(&self) -> IssuerFailure {
        match self {
            LoadError::Discovery(error) => IssuerFailure::of_discovery(error),
            LoadError::Jwks(error) => IssuerFailure::of_jwks(error),
        }
    }
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// The `jwks_uri` of the issuer's discovery document.
    Discovery,
    /// This JWKS URL (it passed the URL policy).
    JwksUrl(String),
}

/// What arrived.
#[derive(Debug)]
struct Loaded {
    jwks: Arc<RemoteJwks>,
    /// The token endpoint of the discovery document, if it names one.
    token_url: Option<String>,
    /// The introspection endpoint of the discovery document, if it names one.
    introspection_url: Option<String>,
}

/// The state while waiting.
#[derive(Debug)]
struct Pending {
    since: SystemTime,
    failures: u32,
    last_error: String,
    next_attempt: Instant,
    /// The kinds of failure alerted so far.
    alerted: Vec<IssuerFailure>,
}

/// The keys of one issuer: empty (and [`KeyReadiness::Waiting`]) until discovery and the
/// first JWKS fetch succeed, then those of a [`RemoteJwks`] kept fresh by its own loop.
pub(crate) struct LoadingKeys {
    issuer: String,
    source: KeySource,
    client: Client,
    options: JwksOptions,
    discovery_timeout: Duration,
    loaded: OnceLock<Loaded>,
    pending: Mutex<Pending>,
    alerts: OnceLock<AlertHandle>,
    task: Mutex<Option<AbortHandle>>,
    /// Whether the background task was started.
    started: AtomicBool,
    /// `true` once the first attempt has finished, whatever its outcome.
    first_attempt: watch::Sender<bool>,
    /// What `current()` returns while waiting: one set, so that `is_current` can tell it.
    empty: Arc<KeySet>,
}

impl fmt::Debug for LoadingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadingKeys")
            .field("issuer", &self.issuer)
            .field("source", &self.source)
            .field("loaded", &self.loaded.get())
            .finish_non_exhaustive()
    }
}

impl LoadingKeys {
    /// Keys of `issuer` from `source`, fetched with `client`; nothing is fetched before
    /// [`start`](Self::start).
    pub(crate) fn new(
        issuer: String,
        source: KeySource,
        client: Client,
        options: JwksOptions,
        discovery_timeout: Duration,
    ) -> Arc<LoadingKeys> {
        Arc::new(LoadingKeys {
            issuer,
            source,
            client,
            options,
            discovery_timeout,
            loaded: OnceLock::new(),
            pending: Mutex::new(Pending {
                since: SystemTime::now(),
                failures: 0,
                last_error: "no attempt has finished yet".to_owned(),
                next_attempt: Instant::now(),
                alerted: Vec::new(),
            }),
            alerts: OnceLock::new(),
            task: Mutex::new(None),
            started: AtomicBool::new(false),
            first_attempt: watch::Sender::new(false),
            empty: Arc::new(KeySet::new()),
        })
    }

    /// The token endpoint found by discovery, once it succeeded.
    pub(crate) fn token_url(&self) -> Option<String> {
        self.loaded
            .get()
            .and_then(|loaded| loaded.token_url.clone())
    }

    /// The introspection endpoint found by discovery, once it succeeded: `Some(None)` when
    /// the document names none.
    pub(crate) fn introspection_url(&self) -> Option<Option<&str>> {
        self.loaded
            .get()
            .map(|loaded| loaded.introspection_url.as_deref())
    }

    /// Starts the background task: a first attempt at once, then retries until the keys
    /// arrive. It holds only a weak reference between attempts and ends when this is
    /// dropped (which also aborts it). The receiver completes when the first attempt has
    /// finished, whatever its outcome. Outside a tokio runtime nothing starts (an error is
    /// logged) and `None` is returned; once started, later calls return `None` too.
    pub(crate) fn start(self: &Arc<Self>) -> Option<oneshot::Receiver<()>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                target: "portcullis::alert",
                issuer = %self.issuer,
                "the keys of the issuer are not fetched: no tokio runtime"
            );
            return None;
        };
        if self.started.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.pending().since = SystemTime::now();
        let (first_done, first_attempt) = oneshot::channel();
        let task = runtime.spawn(keep_trying(Arc::downgrade(self), first_done));
        *self.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
        Some(first_attempt)
    }

    /// Whether [`start`](Self::start) has started the background task.
    pub(crate) fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// For keys fetched on the first token that needs them: starts the background task on
    /// the first call, and waits until its first attempt has finished (each request of it
    /// is bounded by its timeout, and the wait by their sum). Calls made meanwhile wait for
    /// that same attempt; calls made after it return at once. Outside a tokio runtime it
    /// returns at once, nothing started.
    pub(crate) async fn first_attempt_on_demand(self: &Arc<Self>) {
        let mut finished = self.first_attempt.subscribe();
        if *finished.borrow() {
            return;
        }
        let _ = self.start();
        if !self.started() {
            return;
        }
        let bound = self
            .discovery_timeout
            .saturating_add(self.options.fetch_timeout);
        let _ = tokio::time::timeout(bound, finished.wait_for(|done| *done)).await;
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One attempt: discovery (if configured) and the first JWKS fetch. `true` once the
    /// keys are there.
    async fn attempt(&self) -> bool {
        if self.loaded.get().is_some() {
            return true;
        }
        match self.load().await {
            Ok(loaded) => {
                self.arrived(loaded);
                true
            }
            Err(error) => {
                self.failed(&error);
                false
            }
        }
    }

    async fn load(&self) -> Result<Loaded, LoadError> {
        let (uri, token_url, introspection_url) = match &self.source {
            KeySource::JwksUrl(uri) => (uri.clone(), None, None),
            KeySource::Discovery => {
                let metadata = discover_with(&self.client, &self.issuer, self.discovery_timeout)
                    .await
                    .map_err(LoadError::Discovery)?;
                (
                    metadata.jwks_uri,
                    metadata.token_endpoint,
                    metadata.introspection_endpoint,
                )
            }
        };
        let jwks = RemoteJwks::fetch_with(self.client.clone(), &uri, self.options.clone())
            .await
            .map_err(LoadError::Jwks)?;
        Ok(Loaded {
            jwks,
            token_url,
            introspection_url,
        })
    }

    fn arrived(&self, loaded: Loaded) {
        if let Some(alerts) = self.alerts.get() {
            loaded.jwks.attach_alerts(alerts.clone());
        }
        loaded.jwks.spawn_refresh();
        let uri = loaded.jwks.uri().to_owned();
        let keys = loaded.jwks.current().len();
        // Only this task loads: the cell is empty.
        let _ = self.loaded.set(loaded);
        let (failures, alerted) = {
            let pending = self.pending();
            (pending.failures, !pending.alerted.is_empty())
        };
        tracing::info!(
            target: "portcullis::auth",
            issuer = %self.issuer,
            jwks_uri = %uri,
            keys,
            failed_attempts = failures,
            "the keys of the issuer arrived; its tokens are verified"
        );
        if alerted && let Some(alerts) = self.alerts.get() {
            alerts.raise(Alert {
                kind: AlertKind::IssuerAvailable {
                    issuer: self.issuer.clone(),
                },
                count: 1,
                window: Duration::ZERO,
            });
        }
    }

    fn failed(&self, error: &LoadError) {
        let kind = error.kind();
        let message = error.to_string();
        let (retry_in, first_of_its_kind) = {
            let mut pending = self.pending();
            pending.failures = pending.failures.saturating_add(1);
            let retry_in = key_retry_delay(pending.failures, random_jitter());
            pending.next_attempt = Instant::now()
                .checked_add(retry_in)
                .unwrap_or_else(Instant::now);
            pending.last_error.clone_from(&message);
            let first_of_its_kind = !pending.alerted.contains(&kind);
            if first_of_its_kind {
                pending.alerted.push(kind);
            }
            (retry_in, first_of_its_kind)
        };
        tracing::debug!(
            target: "portcullis::auth",
            issuer = %self.issuer,
            failure = kind.as_str(),
            error = %message,
            retry_in = ?retry_in,
            "the keys of the issuer could not be fetched; retrying"
        );
        if !first_of_its_kind {
            return;
        }
        let alert = Alert {
            kind: AlertKind::IssuerUnavailable {
                issuer: self.issuer.clone(),
                failure: kind,
                error: message,
            },
            count: 1,
            window: Duration::ZERO,
        };
        match self.alerts.get() {
            Some(alerts) => alerts.raise(alert),
            None => tracing::warn!(target: crate::alert::ALERT_TARGET, alert = %alert, "{alert}"),
        }
    }

    /// When the next attempt is due.
    fn next_attempt(&self) -> Instant {
        self.pending().next_attempt
    }
}

impl Drop for LoadingKeys {
    fn drop(&mut self) {
        let task = self.task.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = task.take() {
            task.abort();
        }
    }
}

/// The background task: a first attempt, then retries on the backoff schedule until the
/// keys arrive or the keys are dropped.
async fn keep_trying(keys: Weak<LoadingKeys>, first_done: oneshot::Sender<()>) {
    let Some(strong) = keys.upgrade() else {
        return;
    };
    let loaded = strong.attempt().await;
    strong.first_attempt.send_replace(true);
    drop(strong);
    let _ = first_done.send(());
    if loaded {
        return;
    }
    loop {
        let Some(due) = keys.upgrade().map(|keys| keys.next_attempt()) else {
            return;
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let Some(strong) = keys.upgrade() else {
            return;
        };
        if strong.attempt().await {
            return;
        }
    }
}

impl KeyProvider for LoadingKeys {
    fn current(&self) -> Arc<KeySet> {
        match self.loaded.get() {
            Some(loaded) => loaded.jwks.current(),
            None => self.empty.clone(),
        }
    }

    fn is_current(&self, keys: &Arc<KeySet>) -> bool {
        match self.loaded.get() {
            Some(loaded) => loaded.jwks.is_current(keys),
            None => Arc::ptr_eq(keys, &self.empty),
        }
    }

    fn refresh_for_unknown_kid<'a>(&'a self, kid: &'a str) -> KeysFuture<'a> {
        match self.loaded.get() {
            Some(loaded) => Box::pin(loaded.jwks.refresh_for_unknown_kid(kid)),
            // Tokens do not hasten attempts: the background task keeps its schedule.
            None => Box::pin(std::future::ready(self.empty.clone())),
        }
    }

    fn attach_alerts(&self, alerts: AlertHandle) {
        if let Some(loaded) = self.loaded.get() {
            loaded.jwks.attach_alerts(alerts.clone());
        }
        let _ = self.alerts.set(alerts);
    }

    fn readiness(&self) -> KeyReadiness {
        if self.loaded.get().is_some() {
            return KeyReadiness::Ready;
        }
        let pending = self.pending();
        KeyReadiness::Waiting {
            since: pending.since,
            last_error: pending.last_error.clone(),
            failures: pending.failures,
            retry_in: pending
                .next_attempt
                .saturating_duration_since(Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertPolicy, Alerter};

    fn loading(alerts: &Arc<Mutex<Vec<Alert>>>) -> Arc<LoadingKeys> {
        let keys = LoadingKeys::new(
            "https://idp.example.com/".to_owned(),
            KeySource::Discovery,
            Client::new(),
            JwksOptions::default(),
            Duration::from_secs(1),
        );
        let sink = {
            let alerts = alerts.clone();
            move |alert: &Alert| alerts.lock().unwrap().push(alert.clone())
        };
        let alerter = Arc::new(Alerter::new(AlertPolicy::default(), vec![Arc::new(sink)]));
        keys.attach_alerts(AlertHandle::new(alerter));
        keys
    }

    fn kinds(alerts: &Arc<Mutex<Vec<Alert>>>) -> Vec<Option<IssuerFailure>> {
        alerts
            .lock()
            .unwrap()
            .iter()
            .map(|alert| match &alert.kind {
                AlertKind::IssuerUnavailable { failure, .. } => Some(*failure),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_kind_of_failure_alerts_once_while_waiting() {
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let keys = loading(&alerts);
        let url = "https://idp.example.com/.well-known/openid-configuration".to_owned();
        let connection = LoadError::Discovery(DiscoveryError::Fetch {
            url: url.clone(),
            reason: "connection refused".to_owned(),
        });
        let status = LoadError::Discovery(DiscoveryError::Status {
            url: url.clone(),
            status: 502,
        });
        let mismatch = LoadError::Discovery(DiscoveryError::IssuerMismatch {
            url,
            found: "https://evil.example/".to_owned(),
            expected: "https://idp.example.com/".to_owned(),
        });
        let no_keys = LoadError::Jwks(RemoteKeyError::NoUsableKeys {
            uri: "https://idp.example.com/jwks".to_owned(),
            skipped: 2,
        });
        for error in [
            &connection,
            &connection,
            &connection,
            &status,
            &connection,
            &status,
            &mismatch,
            &mismatch,
            &no_keys,
            &no_keys,
        ] {
            keys.failed(error);
        }
        assert_eq!(
            kinds(&alerts),
            [
                Some(IssuerFailure::Connection),
                Some(IssuerFailure::HttpStatus),
                Some(IssuerFailure::IssuerMismatch),
                Some(IssuerFailure::NoUsableKeys),
            ]
        );
        match keys.readiness() {
            KeyReadiness::Waiting {
                last_error,
                failures,
                retry_in,
                ..
            } => {
                assert_eq!(failures, 10);
                assert_eq!(last_error, no_keys.to_string());
                assert!(retry_in <= LONGEST_KEY_RETRY, "{retry_in:?}");
                assert!(retry_in >= Duration::from_secs(44), "{retry_in:?}");
            }
            KeyReadiness::Ready | KeyReadiness::NotRequested => panic!("no keys arrived"),
        }
        assert!(keys.current().is_empty());
        assert!(keys.is_current(&keys.current()));
        assert!(!keys.is_current(&Arc::new(KeySet::new())));
    }

    #[test]
    fn odd_jitters_stay_within_the_schedule_and_draws_fall_in_zero_one() {
        // The schedule itself: tests/issuer_startup.rs.
        assert_eq!(key_retry_delay(0, 0.5), FIRST_KEY_RETRY);
        assert_eq!(key_retry_delay(3, f64::NAN), Duration::from_secs(4));
        assert_eq!(
            key_retry_delay(3, f64::NEG_INFINITY),
            Duration::from_secs(4)
        );
        assert_eq!(key_retry_delay(3, 7.0), Duration::from_secs(3));
        let draws: Vec<f64> = (0..64).map(|_| random_jitter()).collect();
        assert!(draws.iter().all(|jitter| (0.0..1.0).contains(jitter)));
        assert!(draws.iter().any(|jitter| *jitter != draws[0]));
        assert!(draws.iter().any(|jitter| *jitter < 0.5) && draws.iter().any(|j| *j >= 0.5));
    }
}
