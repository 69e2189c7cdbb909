//! Alerts: bursts of denials per client and per IP, surges of revoked tokens, key fetches
//! that fail, issuers whose keys have not arrived, shared stores that fall back, audit
//! events lost. Each is raised once per episode to the configured [`AlertSink`]s, and
//! always as a WARN event on target `portcullis::alert`.

mod window;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::auth::IssuerFailure;
use window::SlidingCount;

/// The `tracing` target of alerts.
pub const ALERT_TARGET: &str = "portcullis::alert";

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertKind {
    /// An IP failed authentication `count` times within the window (invalid or missing
    /// tokens: someone guessing, or a client misconfigured).
    AuthenticationFailures {
        /// The IP.
        ip: IpAddr,
    },
    /// A client was refused `count` times within the window (scopes, roles, policies,
    /// quotas, inputs).
    ClientDenials {
        /// The client id.
        client: String,
    },
    /// An IP asked for routes the app's guard does not list `count` times within the
    /// window (someone scanning for unprotected routes).
    UnlistedRoutes {
        /// The IP.
        ip: IpAddr,
    },
    /// Revoked tokens were presented `count` times within the window.
    RevokedTokens,
    /// A decision keyed by the client's IP found no address, so the request was refused
    /// with 500: the server is served without `ConnectInfo` (raised once).
    ClientAddressUnknown,
    /// An issuer's keys could not be fetched (the previous keys are kept).
    KeyFetchFailed {
        /// Where the keys are fetched from.
        source: String,
        /// What went wrong.
        error: String,
    },
    /// An issuer's keys have not arrived: its discovery or first key fetch failed, and is
    /// retried in the background; meanwhile its tokens are refused with 503. Raised once
    /// for each [kind of failure](IssuerFailure) until the keys arrive.
    IssuerUnavailable {
        /// The issuer identifier.
        issuer: String,
        /// What kind of failure.
        failure: IssuerFailure,
        /// What went wrong (URLs and causes, never a secret).
        error: String,
    },
    /// An issuer's keys arrived after [`IssuerUnavailable`](AlertKind::IssuerUnavailable)
    /// alerts: its tokens are verified again.
    IssuerAvailable {
        /// The issuer identifier.
        issuer: String,
    },
    /// An issuer's introspection endpoint cannot be asked, fails or answers what cannot be
    /// read: its opaque tokens are refused with 503 until it answers. Raised once per
    /// outage.
    IntrospectionUnavailable {
        /// The issuer identifier.
        issuer: String,
        /// What went wrong (the endpoint and the cause, never a token or secret).
        error: String,
    },
    /// An issuer's introspection endpoint answers again after
    /// [`IntrospectionUnavailable`](AlertKind::IntrospectionUnavailable).
    IntrospectionAvailable {
        /// The issuer identifier.
        issuer: String,
    },
    /// A shared store is unreachable.
    StoreUnreachable {
        /// Which store.
        store: &'static str,
        /// What the configuration does meanwhile.
        fallback: &'static str,
    },
    /// A shared store answers again.
    StoreRecovered {
        /// Which store.
        store: &'static str,
    },
    /// The copy of the revocations fed from a shared store is behind (its feed is lost):
    /// authenticated requests are refused (503) until it catches up.
    RevocationsBehind {
        /// Which store.
        store: &'static str,
        /// Why (no secret in it).
        reason: String,
    },
    /// The copy of the revocations caught up after
    /// [`RevocationsBehind`](AlertKind::RevocationsBehind) or
    /// [`RevocationsFull`](AlertKind::RevocationsFull).
    RevocationsCurrent {
        /// Which store.
        store: &'static str,
    },
    /// The copy of the revocations reached its configured number of entries: rather than
    /// forget any, authenticated requests are refused (503) until expired entries make
    /// room and the copy is loaded again.
    RevocationsFull {
        /// Which store.
        store: &'static str,
        /// The configured bound.
        limit: usize,
    },
    /// An audit sink lost `count` events since its previous alert of this kind: the first
    /// loss alerts at once, then at most one alert per `window`.
    AuditEventsLost {
        /// Which sink.
        sink: &'static str,
        /// Why the last of them was lost.
        cause: AuditLoss,
    },
}

/// Why an audit sink lost an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditLoss {
    /// Its buffer was full: the writer did not keep up (requests never wait for it).
    BufferFull,
    /// Writing failed (a full disk, a closed pipe), or its writer is gone.
    WriteFailed,
}

impl fmt::Display for AuditLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuditLoss::BufferFull => "its buffer was full",
            AuditLoss::WriteFailed => "writing failed",
        })
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What happened.
    pub kind: AlertKind,
    /// How many events within the window (1 for one-off events).
    pub count: u32,
    /// The window counted over.
    pub window: Duration,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AlertKind::AuthenticationFailures { ip } => {
                write!(
                    f,
                    "{} failed authentications from {ip} within {:?}",
                    self.count, self.window
                )
            }
            AlertKind::ClientDenials { client } => {
                write!(
                    f,
                    "{} denials of client {client:?} within {:?}",
                    self.count, self.window
                )
            }
            AlertKind::UnlistedRoutes { ip } => write!(
                f,
                "{} requests for unlisted routes from {ip} within {:?}",
                self.count, self.window
            ),
            AlertKind::ClientAddressUnknown => f.write_str(
                "a decision keyed by the client's IP found no address, so requests are refused \
                 with 500: serve the app with `portcullis::transport::serve` (or axum's \
                 `into_make_service_with_connect_info::<SocketAddr>()`), or configure the \
                 trusted proxies that name the client",
            ),
            AlertKind::RevokedTokens => write!(
                f,
                "{} uses of revoked tokens within {:?}",
                self.count, self.window
            ),
            AlertKind::KeyFetchFailed { source, error } => {
                write!(f, "keys from {source} could not be fetched: {error}")
            }
            AlertKind::IssuerUnavailable {
                issuer,
                failure,
                error,
            } => write!(
                f,
                "the keys of the issuer {issuer:?} are not available ({failure}): {error}; \
                 its tokens are refused with 503 until they arrive"
            ),
            AlertKind::IssuerAvailable { issuer } => {
                write!(f, "the keys of the issuer {issuer:?} arrived")
            }
            AlertKind::IntrospectionUnavailable { issuer, error } => write!(
                f,
                "the introspection of the issuer {issuer:?} fails: {error}; its opaque tokens \
                 are refused with 503 until it answers"
            ),
            AlertKind::IntrospectionAvailable { issuer } => {
                write!(
                    f,
                    "the introspection of the issuer {issuer:?} answers again"
                )
            }
            AlertKind::StoreUnreachable { store, fallback } => {
                write!(f, "the {store} store is unreachable; {fallback}")
            }
            AlertKind::StoreRecovered { store } => {
                write!(f, "the {store} store is reachable again")
            }
            AlertKind::RevocationsBehind { store, reason } => write!(
                f,
                "the copy of the {store} revocations is behind ({reason}); authenticated \
                 requests are refused (503) until it catches up"
            ),
            AlertKind::RevocationsCurrent { store } => {
                write!(f, "the copy of the {store} revocations is current again")
            }
            AlertKind::RevocationsFull { store, limit } => write!(
                f,
                "the copy of the {store} revocations holds its limit of {limit} entries; \
                 authenticated requests are refused (503) until expired entries make room"
            ),
            AlertKind::AuditEventsLost { sink, cause } => write!(
                f,
                "the {sink} audit sink lost {} event{} since its previous such alert ({cause})",
                self.count,
                if self.count == 1 { "" } else { "s" }
            ),
        }
    }
}

/// Where alerts go besides `tracing`.
///
/// Closures are sinks, so a channel is one line:
///
/// ```
/// use portcullis_runtime::alert::Alert;
///
/// let (sender, receiver) = std::sync::mpsc::channel::<Alert>();
/// let sink = move |alert: &Alert| { let _ = sender.send(alert.clone()); };
/// ```
pub trait AlertSink: Send + Sync + 'static {
    /// Receives one alert. Called on the request path: must not block.
    fn alert(&self, alert: &Alert);
}

impl<F> AlertSink for F
where
    F: Fn(&Alert) + Send + Sync + 'static,
{
    fn alert(&self, alert: &Alert) {
        self(alert)
    }
}

/// When alerts are raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPolicy {
    /// The sliding window events are counted over (default 1 minute).
    pub window: Duration,
    /// Failed authentications from one IP within the window that raise an alert
    /// (default 20).
    pub authentication_failures: u32,
    /// Requests from one IP for routes the guard does not list, within the window, that
    /// raise an alert (default 20).
    pub unlisted_routes: u32,
    /// Denials of one client within the window that raise an alert (default 50).
    pub client_denials: u32,
    /// Uses of revoked tokens (all clients) within the window that raise an alert
    /// (default 5).
    pub revoked_tokens: u32,
    /// After an alert, the same key raises no other before this long (default 5
    /// minutes): one alert per episode.
    pub cooldown: Duration,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            window: Duration::from_secs(60),
            authentication_failures: 20,
            unlisted_routes: 20,
            client_denials: 50,
            revoked_tokens: 5,
            cooldown: Duration::from_secs(300),
        }
    }
}

/// One watched key: its sliding count and its last alert.
#[derive(Debug)]
struct Watch {
    count: SlidingCount,
    last_alert: Option<Instant>,
}

/// Where a component raises alerts: the configuration's policy and sinks.
///
/// Stores receive one through `attach_alerts` when the configuration is built, to report
/// their outages and recoveries.
#[derive(Clone, Debug)]
pub struct AlertHandle(Arc<Alerter>);

impl AlertHandle {
    pub(crate) fn new(alerter: Arc<Alerter>) -> Self {
        AlertHandle(alerter)
    }

    /// Raises `alert`: a WARN event on `portcullis::alert`, and every sink.
    pub fn raise(&self, alert: Alert) {
        self.0.raise(alert);
    }
}

/// A denied request, as the alerts count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial<'a> {
    /// A revoked token was presented.
    RevokedToken,
    /// A token was refused for the client's own fault (not the server's), from `ip`.
    AuthenticationFailed { ip: Option<IpAddr> },
    /// A request to a route the app does not list, from `ip`.
    UnlistedRoute { ip: Option<IpAddr> },
    /// An authenticated client was refused (scope, role, policy, rate, input).
    ClientDenied { client: Option<&'a str> },
}

/// Watches decisions and raises alerts.
pub(crate) struct Alerter {
    policy: AlertPolicy,
    sinks: Vec<Arc<dyn AlertSink>>,
    by_ip: DashMap<IpAddr, Watch>,
    unlisted_by_ip: DashMap<IpAddr, Watch>,
    by_client: DashMap<Box<str>, Watch>,
    revoked: std::sync::Mutex<Watch>,
    client_address_unknown: std::sync::atomic::AtomicBool,
    start: Instant,
}

impl fmt::Debug for Alerter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alerter")
            .field("policy", &self.policy)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

impl Alerter {
    pub(crate) fn new(policy: AlertPolicy, sinks: Vec<Arc<dyn AlertSink>>) -> Self {
        let start = Instant::now();
        Alerter {
            revoked: std::sync::Mutex::new(Watch {
                count: SlidingCount::new(policy.window),
                last_alert: None,
            }),
            policy,
            sinks,
            by_ip: DashMap::new(),
            unlisted_by_ip: DashMap::new(),
            by_client: DashMap::new(),
            client_address_unknown: std::sync::atomic::AtomicBool::new(false),
            start,
        }
    }

    /// Raises `alert` now: to `tracing` and every sink.
    pub(crate) fn raise(&self, alert: Alert) {
        tracing::warn!(target: ALERT_TARGET, alert = %alert, "{alert}");
        for sink in &self.sinks {
            sink.alert(&alert);
        }
    }

    /// Raises [`AlertKind::ClientAddressUnknown`], the first time only.
    pub(crate) fn client_address_unknown(&self) {
        if !self
            .client_address_unknown
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.raise(Alert {
                kind: AlertKind::ClientAddressUnknown,
                count: 1,
                window: Duration::ZERO,
            });
        }
    }

    /// Counts one denied request.
    pub(crate) fn observe(&self, denial: Denial<'_>) {
        let now = Instant::now();
        match denial {
            Denial::RevokedToken => {
                let mut watch = self
                    .revoked
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(count) = self.count(&mut watch, now, self.policy.revoked_tokens) {
                    drop(watch);
                    self.raise(Alert {
                        kind: AlertKind::RevokedTokens,
                        count,
                        window: self.policy.window,
                    });
                }
            }
            Denial::AuthenticationFailed { ip } => {
                let Some(ip) = ip else { return };
                let fired = {
                    let mut watch = self.by_ip.entry(ip).or_insert_with(|| self.watch());
                    self.count(&mut watch, now, self.policy.authentication_failures)
                };
                if let Some(count) = fired {
                    self.raise(Alert {
                        kind: AlertKind::AuthenticationFailures { ip },
                        count,
                        window: self.policy.window,
                    });
                }
            }
            Denial::UnlistedRoute { ip } => {
                let Some(ip) = ip else { return };
                let fired = {
                    let mut watch = self
                        .unlisted_by_ip
                        .entry(ip)
                        .or_insert_with(|| self.watch());
                    self.count(&mut watch, now, self.policy.unlisted_routes)
                };
                if let Some(count) = fired {
                    self.raise(Alert {
                        kind: AlertKind::UnlistedRoutes { ip },
                        count,
                        window: self.policy.window,
                    });
                }
            }
            Denial::ClientDenied { client } => {
                let Some(client) = client else { return };
                let fired = {
                    let mut watch = self
                        .by_client
                        .entry(Box::from(client))
                        .or_insert_with(|| self.watch());
                    self.count(&mut watch, now, self.policy.client_denials)
                };
                if let Some(count) = fired {
                    let kind = AlertKind::ClientDenials {
                        client: client.to_owned(),
                    };
                    self.raise(Alert {
                        kind,
                        count,
                        window: self.policy.window,
                    });
                }
            }
        }
    }

    fn watch(&self) -> Watch {
        Watch {
            count: SlidingCount::new(self.policy.window),
            last_alert: None,
        }
    }

    /// Counts one event; `Some(count)` when it starts an episode.
    fn count(&self, watch: &mut Watch, now: Instant, threshold: u32) -> Option<u32> {
        let count = watch.count.add(now.duration_since(self.start));
        let cooled = watch
            .last_alert
            .is_none_or(|at| now.duration_since(at) >= self.policy.cooldown);
        if count >= threshold && cooled {
            watch.last_alert = Some(now);
            Some(count)
        } else {
            None
        }
    }

    /// Forgets quiet keys.
    pub(crate) fn evict_idle(&self) {
        let now = Instant::now();
        let idle = |watch: &Watch| {
            watch.count.is_quiet(now.duration_since(self.start))
                && watch
                    .last_alert
                    .is_none_or(|at| now.duration_since(at) >= self.policy.cooldown)
        };
        self.by_ip.retain(|_, watch| !idle(watch));
        self.unlisted_by_ip.retain(|_, watch| !idle(watch));
        self.by_client.retain(|_, watch| !idle(watch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However many addresses and clients were denied, the sweep forgets those quiet for
    /// two windows, and keeps one still being denied.
    #[test]
    fn many_quiet_keys_are_forgotten_and_active_ones_kept() {
        let policy = AlertPolicy {
            window: Duration::from_millis(500),
            cooldown: Duration::ZERO,
            ..AlertPolicy::default()
        };
        let alerter = Alerter::new(policy, Vec::new());
        let clients: Vec<String> = (0..5_000).map(|n| format!("client-{n}")).collect();
        for n in 0..5_000u32 {
            let ip = Some(IpAddr::from((0x0a00_0000 + n).to_be_bytes()));
            alerter.observe(Denial::AuthenticationFailed { ip });
            alerter.observe(Denial::UnlistedRoute { ip });
            alerter.observe(Denial::ClientDenied {
                client: Some(&clients[n as usize]),
            });
        }
        let sizes = |alerter: &Alerter| {
            [
                alerter.by_ip.len(),
                alerter.unlisted_by_ip.len(),
                alerter.by_client.len(),
            ]
        };
        assert_eq!(sizes(&alerter), [5_000; 3]);
        alerter.evict_idle();
        assert_eq!(sizes(&alerter), [5_000; 3], "denied within the window");
        // Two windows and more.
        std::thread::sleep(Duration::from_millis(1_100));
        let still = Some(IpAddr::from([10, 0, 0, 7]));
        alerter.observe(Denial::AuthenticationFailed { ip: still });
        alerter.observe(Denial::ClientDenied {
            client: Some("client-7"),
        });
        alerter.evict_idle();
        assert_eq!(sizes(&alerter), [1, 0, 1]);
    }
}
