//! Secrets kept out of code and logs, and fields sealed at rest.
//!
//! # Loading secrets
//!
//! HMAC keys, client secrets, Redis passwords and field keys are configuration, never
//! code. [`secret_from_env`] reads one from the environment variable `NAME`, or from the
//! file that `NAME_FILE` names (the Docker and Kubernetes secrets convention), into a
//! [`SecretString`]; [`secret_bytes_from_env`] decodes a key given
//! in base64 into a [`SecretSlice<u8>`](secrecy::SecretSlice). Neither the values nor the
//! errors ever print a secret: errors name the variable or the file, never what is in it.
//!
//! ```no_run
//! use portcullis_runtime::KeySet;
//! use portcullis_runtime::secrets::{SecretEncoding, secret_bytes_from_env};
//!
//! let mut keys = KeySet::new();
//! let hmac = secret_bytes_from_env("TOKEN_HMAC_KEY", SecretEncoding::Base64Url)?;
//! keys.add_hmac(Some("hmac-1"), &hmac)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sealed fields
//!
//! A [`Sealed<T>`] field serializes as ciphertext and deserializes by decrypting, so a
//! sensitive value (an order's delivery address, say) is encrypted wherever the record is
//! stored. Keys live in a versioned [`KeyRing`]: new seals use its current key, and older
//! keys stay to open what they sealed, so keys rotate without rewriting stored data.
//!
//! ```
//! use portcullis_runtime::secrets::{KeyRing, SealContext, Sealed, with_key_ring};
//! use secrecy::SecretString;
//! use serde::{Deserialize, Serialize};
//!
//! /// The context a delivery address is sealed for: it cannot be moved to another field.
//! enum DeliveryAddress {}
//! impl SealContext for DeliveryAddress {
//!     const CONTEXT: &'static str = "orders.delivery_address";
//! }
//!
//! #[derive(Serialize, Deserialize)]
//! struct Order {
//!     item: String,
//!     delivery: Sealed<String, DeliveryAddress>,
//! }
//!
//! let ring = KeyRing::parse(&SecretString::from(
//!     "1:Kx3nBzJ2m3c4Nq5Vw8Yb1Df6Gh9Jk2Lm4Pq7Rs0Tu3c", // version:key, newest first
//! ))?;
//! let order = Order { item: "tea".into(), delivery: Sealed::new("1 Main St".into()) };
//! let stored = with_key_ring(&ring, || serde_json::to_string(&order))?;
//! assert!(stored.contains("\"delivery\":\"pcs1.1."));
//! assert!(!stored.contains("Main St"));
//!
//! let back: Order = with_key_ring(&ring, || serde_json::from_str(&stored))?;
//! assert_eq!(back.delivery.get(), "1 Main St");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The sealed format, the key-ring format and how serde finds the key ring are described
//! on [`Sealed`] and [`KeyRing`].

mod encoding;
mod envelope;
mod error;
mod global;
mod key_ring;
mod load;
mod schema;
mod sealed;

pub use encoding::SecretEncoding;
pub use envelope::{FORMAT_PREFIX, KEY_BYTES, NONCE_BYTES, TAG_BYTES};
pub use error::{KeyRingError, SealError, SecretError};
pub use global::{install_key_ring, installed_key_ring, with_key_ring};
pub use key_ring::KeyRing;
pub use load::{MAX_SECRET_FILE_BYTES, secret_bytes_from_env, secret_from_env};
#[doc(hidden)]
pub use schema::context_schema as __context_schema;
pub use schema::{SEALED_PATTERN, sealed_schema};
pub use sealed::{NoContext, SealContext, Sealed};

/// The `secrecy` types Portcullis takes secrets in (a client secret of the development
/// issuer, an HMAC key, a proxy password), so that an app needs no `secrecy` dependency of
/// its own to hand one over.
pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
