//! DPoP (RFC 9449): access tokens bound to a key of the client's, each request carrying a
//! proof signed with that key, for that request only.
//!
//! A token whose `cnf.jkt` names a key is accepted only with `Authorization: DPoP <token>`
//! and a valid `DPoP` proof; sent as `Bearer`, it is refused whatever the configuration
//! (a thief could drop the proof). Checking a proof needs the URI clients reach the
//! service at, which the `Host` header cannot be trusted to tell: configure it with
//! [`Dpop::new`].
//!
//! ```
//! use std::time::Duration;
//! use portcullis_runtime::auth::{Dpop, DpopMode};
//! use portcullis_runtime::{Issuer, Rate, Security};
//!
//! # async fn example() -> Result<(), portcullis_runtime::ConfigError> {
//! let security = Security::builder()
//!     .issuer(Issuer::discover("https://idp.example.com/").audience("orders-api"))
//!     .issuer(
//!         Issuer::discover("https://partners.example.com/")
//!             .audience("orders-api")
//!             .dpop(DpopMode::Required),
//!     )
//!     .dpop(Dpop::new("https://api.example.com").proof_window(Duration::from_secs(30)))
//!     .default_rate(Rate::per_minute(600))
//!     .build()
//!     .await?;
//! # let _ = security; Ok(()) }
//! ```

mod failure;
mod nonce;
mod proof;
mod replay;
mod target;
mod thumbprint;

use std::sync::Arc;
use std::time::Duration;

pub use failure::DpopFailure;
pub use nonce::{DEFAULT_NONCE_STEP, DpopNonces, MIN_NONCE_KEY_BYTES};
pub use replay::{
    DEFAULT_REPLAY_CAPACITY, DpopReplayError, DpopReplayStore, MemoryDpopReplay, ProofId,
    ReplayFuture,
};
pub use thumbprint::jwk_thumbprint;

pub(crate) use proof::{ProofRequest, VerifiedProof, verify_proof};
pub(crate) use target::{ForwardedOrigin, PublicOrigin};

use super::Algorithm;

/// How long after its `iat` a proof is accepted, by default.
pub const DEFAULT_PROOF_WINDOW: Duration = Duration::from_secs(60);

/// How far in the future a proof's `iat` may be (the client's clock ahead of ours).
pub const PROOF_CLOCK_SKEW: Duration = Duration::from_secs(5);

/// The longest proof accepted, in bytes.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The algorithms proofs may be signed with, by default: every asymmetric one Portcullis
/// verifies (a proof is signed with the client's own key, never a shared secret).
pub const DEFAULT_PROOF_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// What one issuer's tokens may be, as to DPoP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DpopMode {
    /// Tokens bound to a key need a proof; unbound bearer tokens pass (the default).
    #[default]
    Allowed,
    /// Every token must be DPoP-bound and come with a proof: bearer tokens are refused.
    Required,
    /// DPoP-bound tokens are refused.
    Refused,
}

/// How DPoP proofs are checked: the public origin their `htu` must name, the algorithms
/// they may be signed with, how long one is accepted, and where the ids of the proofs seen
/// are kept. Given to [`SecurityBuilder::dpop`](crate::SecurityBuilder::dpop).
#[derive(Clone)]
pub struct Dpop {
    pub(crate) origin: String,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) window: Duration,
    pub(crate) replay: Arc<dyn DpopReplayStore>,
    pub(crate) nonces: Option<DpopNonces>,
    pub(crate) forwarded_origin: bool,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("origin", &self.origin)
            .field("algorithms", &self.algorithms)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    /// Proofs must name `public_origin` (`https://api.example.com`; with a path when a
    /// proxy in front strips a prefix: `https://example.com/api`) followed by the path of
    /// the request as the service receives it (the original URI, so including the prefix
    /// of a router the endpoint is nested under). Checked when the configuration is built.
    pub fn new(public_origin: impl Into<String>) -> Dpop {
        Dpop {
            origin: public_origin.into(),
            algorithms: DEFAULT_PROOF_ALGORITHMS.to_vec(),
            window: DEFAULT_PROOF_WINDOW,
            replay: Arc::new(MemoryDpopReplay::new()),
            nonces: None,
            forwarded_origin: false,
        }
    }

    /// Behind trusted proxies (`SecurityBuilder::trusted_proxies`), takes the scheme and
    /// host of `htu` from what the proxy forwarded (`Forwarded: proto=..;host=..`, else
    /// `X-Forwarded-Proto` and `X-Forwarded-Host`, the last proxy's) instead of the public
    /// origin's, keeping its path prefix: for a service reached under several host names.
    /// Off by default; from a peer that is not a trusted proxy, the headers are ignored.
    pub fn forwarded_origin(mut self) -> Dpop {
        self.forwarded_origin = true;
        self
    }

    /// Requires server nonces (RFC 9449 §8, off by default): each proof must carry a
    /// `nonce` this service issued, of the current or the previous time step; a proof
    /// without one is answered 401 `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`, and
    /// the client retries with it. A proof whose nonce is of the previous step, so expires
    /// at the end of this one, gets its answer (or a refusal after the proof was checked:
    /// 403, 429) with the next nonce in `DPoP-Nonce` (RFC 9449 §8.2): a client that takes
    /// it is not refused again. Every instance given the
    /// same key accepts the others' nonces. Limits how long a proof made in advance (by malware on the client, with the
    /// key in reach) stays usable.
    ///
    /// ```
    /// use portcullis_runtime::auth::{Dpop, DpopNonces};
    /// use secrecy::SecretSlice;
    ///
    /// // In production, from a secret store: `portcullis::secrets::secret_bytes_from_env`.
    /// let key = SecretSlice::from(vec![7u8; 32]);
    /// let dpop = Dpop::new("https://api.example.com").server_nonces(DpopNonces::new(&key));
    /// ```
    pub fn server_nonces(mut self, nonces: DpopNonces) -> Dpop {
        self.nonces = Some(nonces);
        self
    }

    /// The algorithms proofs may be signed with (default
    /// [`DEFAULT_PROOF_ALGORITHMS`]); an HMAC algorithm is refused when the configuration
    /// is built.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Dpop {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How long after its `iat` a proof is accepted (default [`DEFAULT_PROOF_WINDOW`]); its
    /// id is remembered that long.
    pub fn proof_window(mut self, window: Duration) -> Dpop {
        self.window = window;
        self
    }

    /// Where the ids of the proofs seen are kept (default: a [`MemoryDpopReplay`], right
    /// for one instance).
    pub fn replay_store(mut self, store: Arc<dyn DpopReplayStore>) -> Dpop {
        self.replay = store;
        self
    }
}

/// Why a [`Dpop`] configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopConfigError {
    /// The public origin is not an `http` or `https` URL without query, fragment or
    /// credentials.
    #[error("the DPoP public origin is refused: {0}")]
    PublicOrigin(String),
    /// No algorithm, or an HMAC one.
    #[error("DPoP proofs need at least one asymmetric algorithm, and no HMAC one")]
    Algorithms,
    /// A proof window of zero, or longer than an hour.
    #[error("the DPoP proof window must be between 1 s and 1 h")]
    Window,
    /// The server-nonce key is shorter than [`MIN_NONCE_KEY_BYTES`].
    #[error("the DPoP nonce key must have at least {MIN_NONCE_KEY_BYTES} bytes")]
    NonceKey,
}

/// A checked [`Dpop`], as requests use it.
pub(crate) struct DpopRules {
    pub(crate) origin: PublicOrigin,
    pub(crate) algorithms: Vec<Algorithm>,
    /// The `algs` parameter of the `DPoP` challenge: the algorithms, space-separated.
    pub(crate) algs: Arc<str>,
    pub(crate) window: u64,
    pub(crate) replay: Arc<dyn DpopReplayStore>,
    pub(crate) nonces: Option<DpopNonces>,
    /// Whether a trusted proxy's forwarded scheme and host are believed.
    pub(crate) forwarded_origin: bool,
}

impl DpopRules {
    pub(crate) fn new(dpop: Dpop) -> Result<DpopRules, DpopConfigError> {
        let origin = PublicOrigin::parse(&dpop.origin).map_err(DpopConfigError::PublicOrigin)?;
        if dpop.algorithms.is_empty()
            || dpop
                .algorithms
                .iter()
                .any(|alg| matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return Err(DpopConfigError::Algorithms);
        }
        if dpop.window.is_zero() || dpop.window > Duration::from_secs(3600) {
            return Err(DpopConfigError::Window);
        }
        if dpop
            .nonces
            .as_ref()
            .is_some_and(|nonces| !nonces.key_is_strong())
        {
            return Err(DpopConfigError::NonceKey);
        }
        let algs = dpop
            .algorithms
            .iter()
            .map(Algorithm::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        Ok(DpopRules {
            origin,
            algorithms: dpop.algorithms,
            algs: Arc::from(algs),
            window: dpop.window.as_secs().max(1),
            replay: dpop.replay,
            nonces: dpop.nonces,
            forwarded_origin: dpop.forwarded_origin,
        })
    }
}
