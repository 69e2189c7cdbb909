//! The introspection of one issuer's tokens: where its endpoint is, the answers known to be
//! inactive, and the alert raised once when the endpoint fails.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Instant;

use quick_cache::UnitWeighter;
use quick_cache::sync::{Cache, DefaultLifecycle};
use reqwest::{Client, Url};
use serde_json::{Map, Value};

use super::answer::{Answer, parse_answer};
use super::endpoint::ask;
use super::settings::Introspection;
use crate::alert::{Alert, AlertHandle, AlertKind};
use crate::auth::fetch::{self, FetchFailure, UrlRefusal};
use crate::auth::{AuthFailure, LoadingKeys};

/// How many inactive answers are kept at most.
const INACTIVE_CAPACITY: usize = 10_000;

/// Past this many tokens being asked about at once, the record of those asked about is
/// swept of the ones no request waits for any more.
const IN_FLIGHT_SWEEP: usize = 1_024;

/// What the endpoint said of a token, shared by the requests that wait for it.
type Outcome = Result<Map<String, Value>, AuthFailure>;

/// One question to the endpoint, which every request with the same token awaits.
type InFlight = tokio::sync::OnceCell<Outcome>;

/// The SHA-256 digest of a token: what is kept of the tokens found inactive (never the
/// token itself).
pub(crate) type TokenDigest = [u8; 32];

/// The digest of `token`.
pub(crate) fn token_digest(token: &str) -> TokenDigest {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(digest.as_ref());
    bytes
}

/// Introspects the opaque tokens of one issuer.
pub(crate) struct Introspector {
    issuer: String,
    config: Introspection,
    client: Client,
    /// The endpoint configured, checked when the configuration was built.
    configured: Option<Url>,
    /// The issuer's discovery, when the endpoint is the one its document names.
    discovery: Option<Arc<LoadingKeys>>,
    /// The discovered endpoint, checked once.
    discovered: OnceLock<Result<Url, String>>,
    /// Tokens answered inactive, until when they are refused without asking.
    inactive: Cache<TokenDigest, Instant, UnitWeighter, foldhash::fast::RandomState>,
    /// The tokens being asked about: requests with a token already being asked about wait
    /// for that answer instead of asking again.
    in_flight: Mutex<HashMap<TokenDigest, Weak<InFlight>>>,
    /// Whether the last request failed (an alert was raised for that outage).
    failing: AtomicBool,
    alerts: OnceLock<AlertHandle>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("issuer", &self.issuer)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Introspector {
    /// The introspection of `issuer`'s tokens as `config` says, at `configured` (checked)
    /// or else at the endpoint `discovery` finds.
    pub(crate) fn new(
        issuer: String,
        config: Introspection,
        client: Client,
        configured: Option<Url>,
        discovery: Option<Arc<LoadingKeys>>,
    ) -> Introspector {
        Introspector {
            issuer,
            config,
            client,
            configured,
            discovery,
            discovered: OnceLock::new(),
            inactive: Cache::with(
                INACTIVE_CAPACITY,
                INACTIVE_CAPACITY as u64,
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                DefaultLifecycle::default(),
            ),
            in_flight: Mutex::new(HashMap::new()),
            failing: AtomicBool::new(false),
            alerts: OnceLock::new(),
        }
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &Introspection {
        &self.config
    }

    /// The token prefix that recognises this issuer's tokens, if configured.
    pub(crate) fn token_prefix(&self) -> Option<&str> {
        self.config.token_prefix.as_deref()
    }

    /// Sends the alerts of failing requests to `alerts`.
    pub(crate) fn attach_alerts(&self, alerts: AlertHandle) {
        let _ = self.alerts.set(alerts);
    }

    /// The endpoint to ask, once known.
    fn endpoint(&self) -> Result<&Url, String> {
        if let Some(url) = &self.configured {
            return Ok(url);
        }
        let Some(discovery) = &self.discovery else {
            return Err("no introspection endpoint is configured".to_owned());
        };
        let Some(found) = discovery.introspection_url() else {
            return Err("the issuer's discovery has not succeeded yet".to_owned());
        };
        let Some(found) = found else {
            return Err(
                "the issuer's discovery document names no introspection_endpoint".to_owned(),
            );
        };
        self.discovered
            .get_or_init(|| match fetch::checked_url(found) {
                Ok(url) => Ok(url),
                Err(UrlRefusal::Insecure) => Err(format!(
                    "the introspection_endpoint {found:?} is refused: it must be https:// \
                     (plain http:// only on loopback)"
                )),
                Err(UrlRefusal::Invalid(reason)) => Err(format!(
                    "the introspection_endpoint {:?} is refused: {reason}",
                    fetch::without_credentials(found)
                )),
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// What the endpoint says of `token` (whose digest is `digest`): its claims when it is
    /// active; [`AuthFailure::InactiveToken`] when it is not (or was found not to be within
    /// the inactive-answer time); [`AuthFailure::IntrospectionUnavailable`] when the
    /// endpoint cannot be asked, fails or answers what cannot be read.
    ///
    /// Requests with a token already being asked about wait for that answer: a burst of
    /// requests with a new token costs the provider one request.
    pub(crate) async fn introspect(&self, token: &str, digest: &TokenDigest) -> Outcome {
        if self
            .inactive
            .get(digest)
            .is_some_and(|until| Instant::now() < until)
        {
            return Err(AuthFailure::InactiveToken);
        }
        let question = self.question(digest);
        let outcome = question
            .get_or_init(|| self.ask_endpoint(token, digest))
            .await
            .clone();
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(digest)
            .is_some_and(|asked| std::ptr::eq(asked.as_ptr(), Arc::as_ptr(&question)))
        {
            in_flight.remove(digest);
        }
        outcome
    }

    /// The question being asked about the token of `digest`, or a new one.
    fn question(&self, digest: &TokenDigest) -> Arc<InFlight> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(question) = in_flight.get(digest).and_then(Weak::upgrade) {
            return question;
        }
        if in_flight.len() >= IN_FLIGHT_SWEEP {
            in_flight.retain(|_, asked| asked.strong_count() > 0);
        }
        let question = Arc::new(InFlight::new());
        in_flight.insert(*digest, Arc::downgrade(&question));
        question
    }

    /// Asks the endpoint about `token`.
    async fn ask_endpoint(&self, token: &str, digest: &TokenDigest) -> Outcome {
        let url = self.endpoint().map_err(|reason| self.failed(reason))?;
        let body = ask(&self.client, url, &self.config, token)
            .await
            .map_err(|failure| self.failed(describe(url, &failure)))?;
        let answer = parse_answer(&body).map_err(|error| self.failed(error.to_string()))?;
        self.answered();
        match answer {
            Answer::Active(claims) => Ok(claims),
            Answer::Inactive => {
                if let Some(until) = Instant::now().checked_add(self.config.inactive_cache) {
                    self.inactive.insert(*digest, until);
                }
                Err(AuthFailure::InactiveToken)
            }
        }
    }

    /// Records a failure: the first of an outage raises an alert (the token is never in
    /// it). The request is refused with 503.
    fn failed(&self, reason: String) -> AuthFailure {
        tracing::debug!(
            target: "portcullis::auth",
            issuer = %self.issuer,
            %reason,
            "an introspection request failed; the token is refused (503)"
        );
        if !self.failing.swap(true, Ordering::AcqRel) {
            self.raise(AlertKind::IntrospectionUnavailable {
                issuer: self.issuer.clone(),
                error: reason,
            });
        }
        AuthFailure::IntrospectionUnavailable
    }

    /// Records an answer: after an outage, an alert that the endpoint answers again.
    fn answered(&self) {
        if self.failing.swap(false, Ordering::AcqRel) {
            self.raise(AlertKind::IntrospectionAvailable {
                issuer: self.issuer.clone(),
            });
        }
    }

    fn raise(&self, kind: AlertKind) {
        let alert = Alert {
            kind,
            count: 1,
            window: std::time::Duration::ZERO,
        };
        match self.alerts.get() {
            Some(alerts) => alerts.raise(alert),
            None => tracing::warn!(target: crate::alert::ALERT_TARGET, alert = %alert, "{alert}"),
        }
    }
}

/// A failed request, for operators: the endpoint and what went wrong (never the token,
/// which is only in the body sent).
fn describe(url: &Url, failure: &FetchFailure) -> String {
    match failure {
        FetchFailure::Transport(reason) => format!("introspection at {url} failed: {reason}"),
        FetchFailure::Timeout(timeout) => {
            format!("introspection at {url} took longer than {timeout:?}")
        }
        FetchFailure::Redirected => {
            format!("introspection at {url} answered with a redirect, which is not followed")
        }
        FetchFailure::Status(status) => format!("introspection at {url} answered HTTP {status}"),
        FetchFailure::TooLarge(limit) => {
            format!("introspection at {url} answered more than {limit} bytes")
        }
    }
}
