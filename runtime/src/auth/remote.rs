//! The signing keys of an issuer fetched from its `jwks_uri`, and kept fresh: refreshed in
//! the background as `Cache-Control` says, early (with a cooldown) when a token names an
//! unknown `kid`, and kept as they are while the provider fails (stale while failing).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use reqwest::{Client, Url};
use tokio::task::AbortHandle;

use super::fetch::{self, FetchFailure, UrlRefusal};
use super::keys::KeySet;

/// The default cap on the size of a JWKS or discovery document: 256 KiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// No refresh delay is ever shorter than this, whatever the options say: a zero delay
/// would make the refresh loop hammer the provider.
pub const SHORTEST_REFRESH_DELAY: Duration = Duration::from_millis(100);

/// No refresh delay is ever longer than this (30 days), whatever the options say.
pub const LONGEST_REFRESH_DELAY: Duration = Duration::from_secs(30 * 24 * 3600);

/// The first retry after a failure comes after at most this long.
const RETRY_BASE: Duration = Duration::from_secs(30);

/// Retries after failures back off up to this long at most.
const RETRY_CAP: Duration = Duration::from_secs(300);

/// The media types asked for (RFC 7517 §8.5), JSON as a second choice.
const JWKS_ACCEPT: &str = "application/jwk-set+json, application/json;q=0.9";

/// Tuning of a remote JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksOptions {
    /// The refresh delay when the response has no usable `Cache-Control: max-age`
    /// (default 300 s). It is clamped to the bounds below like `max-age`.
    pub refresh_interval: Duration,
    /// The shortest refresh delay: a smaller `max-age` is raised to it (default 60 s).
    /// Half of it is also the shortest delay between retries after failures. Never taken
    /// below [`SHORTEST_REFRESH_DELAY`].
    pub min_refresh_interval: Duration,
    /// The longest refresh delay: a larger `max-age` is lowered to it (default 24 h). When
    /// smaller than `min_refresh_interval`, that one wins. Never taken above
    /// [`LONGEST_REFRESH_DELAY`].
    pub max_refresh_interval: Duration,
    /// At most one early refresh for an unknown `kid` starts per cooldown (default 30 s).
    pub unknown_kid_cooldown: Duration,
    /// The deadline of one fetch, for the whole exchange (default 5 s). For an issuer's
    /// keys, [`HttpSettings::timeout`](super::HttpSettings::timeout) replaces it when set.
    pub fetch_timeout: Duration,
    /// Larger documents are refused (default [`DEFAULT_MAX_DOCUMENT_BYTES`]); the body is
    /// never read past this.
    pub max_document_bytes: usize,
}

impl Default for JwksOptions {
    fn default() -> Self {
        JwksOptions {
            refresh_interval: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(60),
            max_refresh_interval: Duration::from_secs(24 * 3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
        }
    }
}

impl JwksOptions {
    /// The delay before the next refresh after a successful fetch whose response carried
    /// these `Cache-Control` field values (all lines joined with `,`): its `max-age` (see
    /// RFC 9111 §5.2.2.1), or [`refresh_interval`](Self::refresh_interval) when there is
    /// none; clamped to [`min_refresh_interval`](Self::min_refresh_interval),
    /// [`max_refresh_interval`](Self::max_refresh_interval)].
    ///
    /// ```
    /// use portcullis_runtime::auth::JwksOptions;
    /// use std::time::Duration;
    ///
    /// let options = JwksOptions::default();
    /// assert_eq!(options.refresh_delay(Some("public, max-age=3600")), Duration::from_secs(3600));
    /// assert_eq!(options.refresh_delay(Some("max-age=5")), Duration::from_secs(60));
    /// assert_eq!(options.refresh_delay(Some("no-store")), Duration::from_secs(300));
    /// assert_eq!(options.refresh_delay(None), Duration::from_secs(300));
    /// ```
    pub fn refresh_delay(&self, cache_control: Option<&str>) -> Duration {
        let (min, max) = self.bounds();
        cache_control
            .and_then(cache_max_age)
            .unwrap_or(self.refresh_interval)
            .clamp(min, max)
    }

    /// The delay before retrying after `failures` consecutive failed fetches (1 for the
    /// first), when the last successful fetch set the refresh delay to `normal`.
    ///
    /// The first retry comes after `min(normal, 30 s)`, and each further one after twice
    /// the previous delay, up to `min(normal, 5 min)`; never sooner than half of
    /// [`min_refresh_interval`](Self::min_refresh_interval). With the defaults:
    /// 30 s, 60 s, 120 s, 240 s, then every 300 s.
    ///
    /// ```
    /// use portcullis_runtime::auth::JwksOptions;
    /// use std::time::Duration;
    ///
    /// let options = JwksOptions::default();
    /// let normal = Duration::from_secs(300);
    /// let delays: Vec<u64> = (1..=6).map(|n| options.retry_delay(normal, n).as_secs()).collect();
    /// assert_eq!(delays, [30, 60, 120, 240, 300, 300]);
    /// ```
    pub fn retry_delay(&self, normal: Duration, failures: u32) -> Duration {
        let (min, max) = self.bounds();
        let normal = normal.clamp(min, max);
        let first = normal.min(RETRY_BASE);
        let doublings = failures.saturating_sub(1).min(20);
        first
            .saturating_mul(1 << doublings)
            .min(normal)
            .min(RETRY_CAP)
            .max(min / 2)
            .max(SHORTEST_REFRESH_DELAY)
    }

    /// The effective [min, max] of refresh delays.
    fn bounds(&self) -> (Duration, Duration) {
        let min = self
            .min_refresh_interval
            .clamp(SHORTEST_REFRESH_DELAY, LONGEST_REFRESH_DELAY);
        let max = self.max_refresh_interval.clamp(min, LONGEST_REFRESH_DELAY);
        (min, max)
    }
}

/// The `max-age` of a `Cache-Control` value (RFC 9111 §5.2.2.1), or `None` when there is
/// none, when it is malformed, or when `no-cache` or `no-store` is present.
///
/// Directive names are case-insensitive, quoted arguments are understood (commas inside
/// them do not split directives), and the first `max-age` counts (RFC 9111 §4.2.1). A value
/// too large for 64 bits counts as the largest one.
pub(crate) fn cache_max_age(cache_control: &str) -> Option<Duration> {
    let mut max_age: Option<Option<Duration>> = None;
    for (name, argument) in directives(cache_control) {
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return None;
        }
        if name.eq_ignore_ascii_case("max-age") && max_age.is_none() {
            max_age = Some(argument.and_then(delta_seconds));
        }
    }
    max_age.flatten()
}

/// The directives of a `Cache-Control` value: name, and argument without quotes.
fn directives(value: &str) -> Vec<(&str, Option<&str>)> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (index, byte) in value.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                parts.push(&value[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((name, argument)) => {
                let argument = argument.trim();
                let argument = argument
                    .strip_prefix('"')
                    .and_then(|inner| inner.strip_suffix('"'))
                    .unwrap_or(argument);
                (name.trim(), Some(argument))
            }
            None => (part, None),
        })
        .collect()
}

/// delta-seconds (RFC 9111 §1.2.2): digits only; too large means the largest.
fn delta_seconds(text: &str) -> Option<Duration> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)))
}

/// Why the keys of a remote JWKS could not be (re)fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteKeyError {
    /// The URL cannot be parsed, or carries credentials.
    #[error("the JWKS URL {uri:?} is invalid: {reason}")]
    InvalidUrl {
        /// The URL as configured, without the credentials it carries.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Neither `https://` nor `http://` on a loopback host.
    #[error(
        "refusing the JWKS URL {uri:?}: signing keys must be fetched over https:// \
         (plain http:// only from localhost, 127.0.0.0/8 or [::1], for development)"
    )]
    InsecureUrl {
        /// The URL as configured.
        uri: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for JWKS fetches: {reason}")]
    Client {
        /// The client's error.
        reason: String,
    },
    /// The request failed: connection, TLS or protocol error.
    #[error("fetching the JWKS at {uri} failed: {reason}")]
    Fetch {
        /// The JWKS URL.
        uri: String,
        /// The error and its causes.
        reason: String,
    },
    /// The request took longer than the fetch timeout.
    #[error("fetching the JWKS at {uri} took longer than {timeout:?}")]
    Timeout {
        /// The JWKS URL.
        uri: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The server answered with a redirect, which is never followed for keys.
    #[error("the JWKS at {uri} answered with a redirect, which is not followed for signing keys")]
    Redirected {
        /// The JWKS URL.
        uri: String,
    },
    /// The server answered with a status other than 2xx.
    #[error("the JWKS at {uri} answered HTTP {status}")]
    Status {
        /// The JWKS URL.
        uri: String,
        /// The status code.
        status: u16,
    },
    /// The document is larger than the cap.
    #[error("the JWKS at {uri} is larger than {limit} bytes")]
    TooLarge {
        /// The JWKS URL.
        uri: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The document is not a JWKS.
    #[error("the JWKS at {uri} is not a JWK set: {reason}")]
    InvalidDocument {
        /// The JWKS URL.
        uri: String,
        /// What is wrong, without quoting the document.
        reason: String,
    },
    /// The document has no key that can verify signatures.
    #[error(
        "the JWKS at {uri} has no usable signing key ({skipped} key(s) skipped: encryption \
         keys, symmetric keys, weak or malformed keys, unknown types)"
    )]
    NoUsableKeys {
        /// The JWKS URL.
        uri: String,
        /// How many keys the document had, all unusable.
        skipped: usize,
    },
}

impl RemoteKeyError {
    fn from_fetch(uri: &str, failure: FetchFailure) -> RemoteKeyError {
        let uri = uri.to_owned();
        match failure {
            FetchFailure::Transport(reason) => RemoteKeyError::Fetch { uri, reason },
            FetchFailure::Timeout(timeout) => RemoteKeyError::Timeout { uri, timeout },
            FetchFailure::Redirected => RemoteKeyError::Redirected { uri },
            FetchFailure::Status(status) => RemoteKeyError::Status { uri, status },
            FetchFailure::TooLarge(limit) => RemoteKeyError::TooLarge { uri, limit },
        }
    }
}

/// Counters of a [`RemoteJwks`], for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksStats {
    /// Fetches attempted, the first one included.
    pub fetches_attempted: u64,
    /// Fetches that failed (the keys were kept).
    pub fetches_failed: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The number of usable keys now.
    pub keys: usize,
    /// When the keys in use were fetched.
    pub last_success: Instant,
    /// The delay the last fetch set before the next background refresh: the refresh delay
    /// after a success, the retry delay after a failure.
    pub next_refresh: Duration,
}

/// Bookkeeping, under a short lock.
#[derive(Debug)]
struct State {
    attempted: u64,
    failed: u64,
    consecutive_failures: u32,
    last_success: Instant,
    /// The refresh delay of the last success, from which retry delays derive.
    normal_delay: Duration,
    next_refresh: Duration,
    next_due: Instant,
}

/// The holder of the fetch lock.
#[derive(Debug, Default)]
struct Flight {
    /// When the last early refresh (for an unknown `kid`) started.
    last_early: Option<Instant>,
}

/// The signing keys of one issuer, fetched from its `jwks_uri` and kept fresh.
///
/// Share it as `Arc<RemoteJwks>`: [`current`](Self::current) is cheap and never waits for
/// the network.
///
/// # Fetching
///
/// - **URL policy.** `https://` always; `http://` only on a loopback host (`localhost`,
///   127.0.0.0/8, `[::1]`), for development; any other URL is
///   [`RemoteKeyError::InsecureUrl`], refused before any network I/O. URLs with a user name
///   or password are refused as [`RemoteKeyError::InvalidUrl`] (they would be logged).
/// - **No redirects.** A JWKS URL that redirects is suspicious (the keys would come from
///   somewhere nobody configured), so a 3xx answer is [`RemoteKeyError::Redirected`]. The
///   client built by [`RemoteJwks::fetch`] follows none; with a caller's client
///   ([`RemoteJwks::fetch_with`]) that follows them, a response whose final URL is not the
///   configured one is refused the same way.
/// - **Bounded.** [`JwksOptions::fetch_timeout`] covers the whole exchange (connection,
///   headers and body); the body is read chunk by chunk and refused past
///   [`JwksOptions::max_document_bytes`] (or at once when `Content-Length` says so).
/// - **Whole replacement.** A successful fetch replaces the whole key set: a key removed by
///   the provider disappears at the next refresh. A document with no usable signing key is a
///   failure, not an empty set.
///
/// # Timing
///
/// After a successful fetch the next background refresh is due after `max-age` of the
/// response's `Cache-Control` (ignored under `no-cache` or `no-store`, or when absent or
/// malformed: then [`JwksOptions::refresh_interval`]), clamped to
/// [[`min_refresh_interval`](JwksOptions::min_refresh_interval),
/// [`max_refresh_interval`](JwksOptions::max_refresh_interval)]: see
/// [`JwksOptions::refresh_delay`].
///
/// After a failed fetch the refresh is retried sooner, with exponential backoff: see
/// [`JwksOptions::retry_delay`]. With the defaults, a provider that stays down is retried
/// after 30 s, 1, 2, 4 minutes, then every 5 minutes, while the previous keys stay in use.
///
/// Any fetch (background, early or [`RemoteJwks::refresh_now`]) moves the next background
/// refresh to that delay after it.
///
/// # Unknown `kid`s: single flight and cooldown
///
/// Every fetch after the first runs under one asynchronous lock. A caller of
/// [`RemoteJwks::refresh_for_unknown_kid`] takes it (waiting for a fetch in progress, if
/// any), then looks at the keys again: if the `kid` is now known (that fetch brought it), or
/// if an early refresh started less than [`JwksOptions::unknown_kid_cooldown`] ago, it gets
/// the current keys without fetching; otherwise it fetches, and everyone who queued behind it
/// gets that fetch's result. So a flood of tokens with made-up `kid`s costs at most one
/// fetch per cooldown. The cooldown starts when an early refresh *starts*, so that callers
/// that give up (a cancelled request) cannot restart fetches either. The first fetch and
/// background refreshes do not start the cooldown: a key rotated just after start-up is
/// picked up at its first sight.
///
/// # Example
///
/// ```no_run
/// # async fn example() -> Result<(), portcullis_runtime::auth::RemoteKeyError> {
/// use portcullis_runtime::auth::{JwksOptions, RemoteJwks};
///
/// let jwks = RemoteJwks::fetch("https://idp.example.com/jwks", JwksOptions::default()).await?;
/// jwks.spawn_refresh();
/// let keys = jwks.current();
/// # let _ = keys;
/// # Ok(())
/// # }
/// ```
pub struct RemoteJwks {
    uri: String,
    url: Url,
    client: Client,
    options: JwksOptions,
    keys: RwLock<Arc<KeySet>>,
    /// Where the current key set lives, for [`is_current`](Self::is_current) without the
    /// lock: every cached token's request asks, on every core.
    current_address: AtomicUsize,
    flight: tokio::sync::Mutex<Flight>,
    state: Mutex<State>,
    refresher: Mutex<Option<AbortHandle>>,
    alerts: std::sync::OnceLock<crate::alert::AlertHandle>,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the keys themselves.
        f.debug_struct("RemoteJwks")
            .field("uri", &self.uri)
            .field("keys", &self.current().len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// Fetches the document at `uri` once, with a client that follows no redirect.
    ///
    /// Fails if the URL is not allowed (before any network I/O), if the fetch fails, or if
    /// the document has no usable key. Spawns nothing: call
    /// [`spawn_refresh`](Self::spawn_refresh) for background refreshes.
    pub async fn fetch(uri: &str, options: JwksOptions) -> Result<Arc<RemoteJwks>, RemoteKeyError> {
        let url = checked_url(uri)?;
        let client = fetch::default_client(options.fetch_timeout)
            .map_err(|reason| RemoteKeyError::Client { reason })?;
        RemoteJwks::fetch_url(client, url, uri, options).await
    }

    /// Same as [`fetch`](Self::fetch) with a caller-provided client (for tests, shared
    /// pools, custom roots). Redirects are refused even if that client follows them.
    pub async fn fetch_with(
        client: Client,
        uri: &str,
        options: JwksOptions,
    ) -> Result<Arc<RemoteJwks>, RemoteKeyError> {
        let url = checked_url(uri)?;
        RemoteJwks::fetch_url(client, url, uri, options).await
    }

    async fn fetch_url(
        client: Client,
        url: Url,
        uri: &str,
        options: JwksOptions,
    ) -> Result<Arc<RemoteJwks>, RemoteKeyError> {
        let (keys, delay) = fetch_keys(&client, &url, uri, &options).await?;
        let now = Instant::now();
        tracing::debug!(
            target: "portcullis::auth",
            uri,
            keys = keys.len(),
            skipped = keys.skipped(),
            next_refresh = ?delay,
            "JWKS fetched"
        );
        let keys = Arc::new(keys);
        Ok(Arc::new(RemoteJwks {
            uri: uri.to_owned(),
            url,
            client,
            current_address: AtomicUsize::new(address_of(&keys)),
            keys: RwLock::new(keys),
            flight: tokio::sync::Mutex::new(Flight::default()),
            state: Mutex::new(State {
                attempted: 1,
                failed: 0,
                consecutive_failures: 0,
                last_success: now,
                normal_delay: delay,
                next_refresh: delay,
                next_due: later(now, delay),
            }),
            refresher: Mutex::new(None),
            alerts: std::sync::OnceLock::new(),
            options,
        }))
    }

    /// The keys now: a short read lock and a reference count; never awaits, never fetches.
    pub fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether `keys` are [`current`](Self::current), without cloning them or taking a
    /// lock.
    ///
    /// Compares addresses: the caller holds `keys`, so no other key set can live at its
    /// address, and the current set's address is published before the set it replaces is
    /// dropped.
    pub fn is_current(&self, keys: &Arc<KeySet>) -> bool {
        self.current_address.load(Ordering::Acquire) == address_of(keys)
    }

    /// Called when a token names a `kid` absent from [`current`](Self::current).
    ///
    /// Refetches at most once per [`unknown_kid_cooldown`](JwksOptions::unknown_kid_cooldown)
    /// however many callers arrive: callers arriving during a fetch wait for that same fetch
    /// (single flight) and all get its result; callers within the cooldown after an early
    /// refresh started get the current keys without fetching. A failed fetch keeps (and
    /// returns) the previous keys. Returns the key set to retry with.
    pub async fn refresh_for_unknown_kid(&self, kid: &str) -> Arc<KeySet> {
        let mut flight = self.flight.lock().await;
        let current = self.current();
        if has_kid(&current, kid) {
            return current;
        }
        let now = Instant::now();
        if flight.last_early.is_some_and(|started| {
            now.saturating_duration_since(started) < self.options.unknown_kid_cooldown
        }) {
            return current;
        }
        flight.last_early = Some(now);
        self.refetch(&flight).await.unwrap_or(current)
    }

    /// Fetches now, whatever the schedule and the cooldown (waiting for a fetch in progress
    /// first). On failure the previous keys stay in use and the error is returned (and
    /// logged, like every failed refresh).
    pub async fn refresh_now(&self) -> Result<Arc<KeySet>, RemoteKeyError> {
        let flight = self.flight.lock().await;
        self.refetch(&flight).await
    }

    /// Starts the background refresh loop on the current tokio runtime. It holds only a
    /// weak reference between fetches and stops when the last `Arc<RemoteJwks>` is dropped.
    /// Calling it again while the loop runs does nothing.
    ///
    /// Outside a tokio runtime nothing is started, and an error is logged on the
    /// `portcullis::alert` target.
    pub fn spawn_refresh(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                target: "portcullis::alert",
                uri = %self.uri,
                "JWKS background refresh not started: no tokio runtime"
            );
            return;
        };
        let mut refresher = self
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if refresher.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let task = runtime.spawn(refresh_loop(Arc::downgrade(self)));
        *refresher = Some(task.abort_handle());
    }

    /// Sends the alerts of failed fetches (the first of each outage) to `alerts`.
    pub fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        let _ = self.alerts.set(alerts);
    }

    /// Counters for tests and metrics.
    pub fn stats(&self) -> JwksStats {
        let keys = self.current().len();
        let state = self.state();
        JwksStats {
            fetches_attempted: state.attempted,
            fetches_failed: state.failed,
            consecutive_failures: state.consecutive_failures,
            keys,
            last_success: state.last_success,
            next_refresh: state.next_refresh,
        }
    }

    /// The JWKS URL, as configured.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The options in force.
    pub fn options(&self) -> &JwksOptions {
        &self.options
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One fetch after the first; the caller holds the fetch lock (`_flight` proves it).
    async fn refetch(&self, _flight: &Flight) -> Result<Arc<KeySet>, RemoteKeyError> {
        let result = fetch_keys(&self.client, &self.url, &self.uri, &self.options).await;
        let now = Instant::now();
        match result {
            Ok((keys, delay)) => {
                let keys = Arc::new(keys);
                let mut current = self.keys.write().unwrap_or_else(PoisonError::into_inner);
                let replaced = std::mem::replace(&mut *current, Arc::clone(&keys));
                self.current_address
                    .store(address_of(&keys), Ordering::Release);
                drop(current);
                drop(replaced);
                let mut state = self.state();
                state.attempted += 1;
                state.consecutive_failures = 0;
                state.last_success = now;
                state.normal_delay = delay;
                state.next_refresh = delay;
                state.next_due = later(now, delay);
                drop(state);
                crate::metrics::counter(crate::metrics::JWKS_FETCHES, &[("outcome", "ok")])
                    .increment(1);
                tracing::debug!(
                    target: "portcullis::auth",
                    uri = %self.uri,
                    keys = keys.len(),
                    skipped = keys.skipped(),
                    next_refresh = ?delay,
                    "JWKS refreshed"
                );
                Ok(keys)
            }
            Err(error) => {
                let mut state = self.state();
                state.attempted += 1;
                state.failed += 1;
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                let delay = self
                    .options
                    .retry_delay(state.normal_delay, state.consecutive_failures);
                state.next_refresh = delay;
                state.next_due = later(now, delay);
                let first_of_an_outage = state.consecutive_failures == 1;
                drop(state);
                crate::metrics::counter(crate::metrics::JWKS_FETCHES, &[("outcome", "failed")])
                    .increment(1);
                tracing::warn!(
                    target: "portcullis::alert",
                    uri = %self.uri,
                    error = %error,
                    retry_in = ?delay,
                    "JWKS refresh failed; keeping the previous keys"
                );
                if first_of_an_outage && let Some(alerts) = self.alerts.get() {
                    alerts.raise(crate::alert::Alert {
                        kind: crate::alert::AlertKind::KeyFetchFailed {
                            source: self.uri.clone(),
                            error: error.to_string(),
                        },
                        count: 1,
                        window: Duration::ZERO,
                    });
                }
                Err(error)
            }
        }
    }

    /// A background refresh, unless another fetch has moved the schedule meanwhile.
    async fn background_refresh(&self) {
        let flight = self.flight.lock().await;
        let due = self.state().next_due;
        if Instant::now() >= due {
            // The error is logged by `refetch`; the loop goes on with the retry delay.
            let _ = self.refetch(&flight).await;
        }
    }
}

impl Drop for RemoteJwks {
    fn drop(&mut self) {
        let refresher = self
            .refresher
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = refresher.take() {
            task.abort();
        }
    }
}

/// The background loop: sleeps until the next refresh is due, holding only a weak
/// reference, then refreshes. Ends when the `RemoteJwks` is gone (its `Drop` also aborts
/// the task, so it does not sleep on for nothing).
async fn refresh_loop(jwks: Weak<RemoteJwks>) {
    loop {
        let Some(due) = jwks.upgrade().map(|jwks| jwks.state().next_due) else {
            return;
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let Some(jwks) = jwks.upgrade() else {
            return;
        };
        jwks.background_refresh().await;
    }
}

/// Parses `uri` and applies the URL policy, before any request.
pub(crate) fn checked_url(uri: &str) -> Result<Url, RemoteKeyError> {
    fetch::checked_url(uri).map_err(|refusal| match refusal {
        UrlRefusal::Invalid(reason) => RemoteKeyError::InvalidUrl {
            uri: fetch::without_credentials(uri),
            reason,
        },
        UrlRefusal::Insecure => RemoteKeyError::InsecureUrl {
            uri: uri.to_owned(),
        },
    })
}

/// Fetches and parses the document: the usable keys and the delay before the next refresh.
async fn fetch_keys(
    client: &Client,
    url: &Url,
    uri: &str,
    options: &JwksOptions,
) -> Result<(KeySet, Duration), RemoteKeyError> {
    let fetched = fetch::get(
        client,
        url,
        JWKS_ACCEPT,
        options.fetch_timeout,
        options.max_document_bytes,
    )
    .await
    .map_err(|failure| RemoteKeyError::from_fetch(uri, failure))?;
    let invalid = |reason: String| RemoteKeyError::InvalidDocument {
        uri: uri.to_owned(),
        reason,
    };
    let text = std::str::from_utf8(&fetched.body)
        .map_err(|_| invalid("it is not UTF-8 text".to_owned()))?;
    // The parser's own message may quote the document: describe the problem instead.
    let keys = KeySet::from_jwks_json(text).map_err(|_| {
        invalid(
            fetch::json_syntax_problem(&fetched.body)
                .unwrap_or_else(|| "it is not an object with a \"keys\" array".to_owned()),
        )
    })?;
    if keys.is_empty() {
        return Err(RemoteKeyError::NoUsableKeys {
            uri: uri.to_owned(),
            skipped: keys.skipped(),
        });
    }
    Ok((
        keys,
        options.refresh_delay(fetched.cache_control.as_deref()),
    ))
}

/// The address of a key set, as an identity: unique while the set is alive.
fn address_of(keys: &Arc<KeySet>) -> usize {
    Arc::as_ptr(keys) as usize
}

fn has_kid(keys: &KeySet, kid: &str) -> bool {
    keys.keys().iter().any(|key| key.kid() == Some(kid))
}

fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cache_control() {
        let secs = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(cache_max_age("max-age=60"), secs(60));
        assert_eq!(cache_max_age("public, max-age=600"), secs(600));
        assert_eq!(cache_max_age("max-age=\"600\", must-revalidate"), secs(600));
        assert_eq!(cache_max_age("max-age=ten"), None);
        assert_eq!(cache_max_age("private"), None);
        assert_eq!(cache_max_age(" public ,  MAX-AGE = 120 "), secs(120));
        assert_eq!(cache_max_age("max-age=\"90\""), secs(90));
        assert_eq!(cache_max_age("max-age=30, max-age=90"), secs(30));
        assert_eq!(
            cache_max_age("private=\"a, max-age=5\", max-age=40"),
            secs(40)
        );
        assert_eq!(
            cache_max_age("max-age=99999999999999999999999"),
            secs(u64::MAX)
        );
        assert_eq!(cache_max_age("max-age=0"), secs(0));
        assert_eq!(cache_max_age("s-maxage=60"), None);
        assert_eq!(cache_max_age("max-age=-1"), None);
        assert_eq!(cache_max_age("max-age=1.5"), None);
        assert_eq!(cache_max_age("max-age"), None);
        assert_eq!(cache_max_age("max-age="), None);
        assert_eq!(cache_max_age("no-store, max-age=60"), None);
        assert_eq!(cache_max_age("max-age=60, No-Cache"), None);
        assert_eq!(cache_max_age("no-cache=\"set-cookie\", max-age=60"), None);
        assert_eq!(cache_max_age(""), None);
    }

    #[test]
    fn odd_options_stay_sane() {
        let options = JwksOptions {
            refresh_interval: Duration::ZERO,
            min_refresh_interval: Duration::ZERO,
            max_refresh_interval: Duration::MAX,
            ..JwksOptions::default()
        };
        assert_eq!(options.refresh_delay(None), SHORTEST_REFRESH_DELAY);
        assert_eq!(
            options.refresh_delay(Some("max-age=999999999999")),
            LONGEST_REFRESH_DELAY
        );
        assert_eq!(
            options.retry_delay(Duration::ZERO, 1),
            SHORTEST_REFRESH_DELAY
        );
        assert_eq!(options.retry_delay(Duration::MAX, u32::MAX), RETRY_CAP);
        let inverted = JwksOptions {
            min_refresh_interval: Duration::from_secs(120),
            max_refresh_interval: Duration::from_secs(10),
            ..JwksOptions::default()
        };
        assert_eq!(
            inverted.refresh_delay(Some("max-age=3600")),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn retries_back_off_within_bounds() {
        let options = JwksOptions::default();
        let delays = |normal: u64| -> Vec<u64> {
            (1..=7)
                .map(|n| {
                    options
                        .retry_delay(Duration::from_secs(normal), n)
                        .as_secs()
                })
                .collect()
        };
        assert_eq!(delays(300), [30, 60, 120, 240, 300, 300, 300]);
        assert_eq!(delays(86_400), [30, 60, 120, 240, 300, 300, 300]);
        // A short refresh delay: retries never come sooner than min_refresh_interval / 2.
        assert_eq!(delays(60), [30, 60, 60, 60, 60, 60, 60]);
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RemoteJwks>();
        assert_send_sync::<RemoteKeyError>();
    }
}
