//! Whether a configuration can verify every issuer's tokens: for a `/ready` endpoint.

use std::fmt;
use std::time::SystemTime;

use crate::auth::{KeyReadiness, RevocationFreshness};

/// Whether every issuer of a [`Security`](crate::Security) has its signing keys; see
/// [`Security::readiness`](crate::Security::readiness).
///
/// Serve it from a readiness endpoint, so that an orchestrator sends traffic only once
/// tokens can be verified (and a liveness endpoint that does not depend on it, so that an
/// instance waiting for its identity provider is not restarted in a loop):
///
/// ```
/// use axum::extract::State;
/// use axum::http::StatusCode;
/// use axum::routing::get;
/// use portcullis_runtime::Security;
///
/// async fn ready(State(security): State<Security>) -> (StatusCode, String) {
///     let readiness = security.readiness();
///     let status = if readiness.is_ready() {
///         StatusCode::OK
///     } else {
///         StatusCode::SERVICE_UNAVAILABLE
///     };
///     // The text names the identity providers and why they fail: serve it on an
///     // internal port, or say less.
///     (status, readiness.to_string())
/// }
///
/// async fn live() -> StatusCode {
///     StatusCode::OK
/// }
///
/// fn probes(security: Security) -> axum::Router {
///     axum::Router::new()
///         .route("/ready", get(ready))
///         .route("/live", get(live))
///         .with_state(security)
/// }
/// # let _ = probes;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Each configured issuer (one for each tenant of an issuer template), in the order
    /// they were given to the builder.
    pub issuers: Vec<IssuerReadiness>,
    /// Whether the revocations can be checked (a copy fed from a shared store may be
    /// behind).
    pub revocations: RevocationFreshness,
}

/// Whether one issuer has its signing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerReadiness {
    /// The issuer identifier.
    pub issuer: String,
    /// Whether its keys are available, and if not, since when and why.
    pub keys: KeyReadiness,
}

impl Readiness {
    /// Whether every issuer has keys (also when there is no issuer at all) or fetches them
    /// on its first token and has had none yet (a tenant of an issuer template), and the
    /// revocations are current.
    pub fn is_ready(&self) -> bool {
        self.issuers.iter().all(IssuerReadiness::is_ready) && self.revocations.is_current()
    }

    /// The issuers still waiting for their keys.
    pub fn waiting(&self) -> impl Iterator<Item = &IssuerReadiness> {
        self.issuers.iter().filter(|issuer| !issuer.is_ready())
    }
}

impl IssuerReadiness {
    /// Whether this issuer has keys, or has not needed them yet.
    pub fn is_ready(&self) -> bool {
        self.keys.is_ready()
    }
}

impl fmt::Display for Readiness {
    /// `ready`, or one line per issuer still waiting (its identifier, for how long, how
    /// many attempts failed, the last error, and when the next attempt comes) and one for
    /// revocations that are behind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ready() {
            return f.write_str("ready");
        }
        let mut lines = self.waiting().map(ToString::to_string).collect::<Vec<_>>();
        if let RevocationFreshness::Behind { reason } = &self.revocations {
            lines.push(format!(
                "the revocations cannot be checked ({reason}): authenticated requests are \
                 refused until they can"
            ));
        }
        f.write_str(&lines.join("\n"))
    }
}

impl fmt::Display for IssuerReadiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.keys {
            KeyReadiness::Waiting {
                since,
                last_error,
                failures,
                retry_in,
            } => {
                let waited = SystemTime::now()
                    .duration_since(*since)
                    .unwrap_or_default()
                    .as_secs();
                write!(
                    f,
                    "waiting for the keys of the issuer {:?} for {waited} s ({failures} failed \
                     attempt{}, next in {} s): {last_error}",
                    self.issuer,
                    if *failures == 1 { "" } else { "s" },
                    retry_in.as_secs_f64().ceil()
                )
            }
            KeyReadiness::Ready => {
                write!(f, "the keys of the issuer {:?} are available", self.issuer)
            }
            KeyReadiness::NotRequested => write!(
                f,
                "the keys of the issuer {:?} are fetched on its first token",
                self.issuer
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ready_when_every_issuer_is() {
        let ready = IssuerReadiness {
            issuer: "https://a.example/".to_owned(),
            keys: KeyReadiness::Ready,
        };
        let waiting = IssuerReadiness {
            issuer: "https://b.example/".to_owned(),
            keys: KeyReadiness::Waiting {
                since: SystemTime::now(),
                last_error: "discovery at https://b.example/x answered HTTP 502".to_owned(),
                failures: 3,
                retry_in: Duration::from_millis(3500),
            },
        };
        assert!(
            Readiness {
                issuers: vec![],
                revocations: RevocationFreshness::Current
            }
            .is_ready()
        );
        let both = Readiness {
            issuers: vec![ready.clone(), waiting.clone()],
            revocations: RevocationFreshness::Current,
        };
        assert!(!both.is_ready());
        assert_eq!(both.waiting().collect::<Vec<_>>(), [&waiting]);
        let text = both.to_string();
        assert!(text.starts_with("waiting for the keys of the issuer \"https://b.example/\" for 0 s (3 failed attempts, next in 4 s): discovery at"), "{text}");
        assert!(!text.contains("a.example"), "{text}");
        assert_eq!(
            Readiness {
                issuers: vec![ready.clone()],
                revocations: RevocationFreshness::Current,
            }
            .to_string(),
            "ready"
        );
        let behind = Readiness {
            issuers: vec![ready],
            revocations: RevocationFreshness::Behind {
                reason: "the copy is 6 s old".to_owned(),
            },
        };
        assert!(!behind.is_ready());
        assert_eq!(
            behind.to_string(),
            "the revocations cannot be checked (the copy is 6 s old): authenticated requests \
             are refused until they can"
        );
    }
}
