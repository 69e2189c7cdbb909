//! `Sealed<T>`: a field stored encrypted.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::global::current_key_ring;
use super::{KeyRing, SealError};

/// Names what a sealed value is for, so that it opens only there.
///
/// The context is authenticated with the value: a value sealed as one field fails to open
/// as another, even with the same key. Implement it on an empty type, one per field (or
/// kind of field), and name that type as the second parameter of [`Sealed`];
/// [`seal_context!`](crate::seal_context) declares such types in one line each.
///
/// ```
/// use portcullis_runtime::secrets::SealContext;
///
/// /// An order's delivery address.
/// pub enum DeliveryAddress {}
///
/// impl SealContext for DeliveryAddress {
///     const CONTEXT: &'static str = "orders.delivery_address";
/// }
/// ```
pub trait SealContext {
    /// The context, written into the associated data of every seal. Changing it makes
    /// the values already stored unreadable, so choose a stable name.
    const CONTEXT: &'static str;
}

/// The context of a [`Sealed<T>`] that names none: the empty string.
///
/// Such values can be moved between fields sealed without context; name a
/// [`SealContext`] to prevent that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoContext {}

impl SealContext for NoContext {
    const CONTEXT: &'static str = "";
}

/// A value that serializes encrypted: a field kept secret at rest.
///
/// `Sealed<T>` holds a `T` in memory. With serde it becomes a string,
///
/// ```text
/// pcs1.<key version>.<base64url(nonce || ciphertext || tag)>
/// ```
///
/// - `pcs1` is the format and its version;
/// - the key version is the [`KeyRing`] version of the key that sealed it, in decimal;
/// - the payload is unpadded base64url of a random 24-byte nonce, then the
///   XChaCha20-Poly1305 encryption of the value's JSON, then the 16-byte tag;
/// - the associated data is `pcs1.<key version>.<context>`, where the context is
///   `C::CONTEXT` (see [`SealContext`]): changing the version or moving the value to a
///   field of another context makes it fail to open.
///
/// It deserializes by decrypting. Anything altered, truncated, sealed with a key the ring
/// does not have, or sealed for another context fails with a [`SealError`] (as the
/// format's error), never a panic and never part of the plaintext.
///
/// Serde passes no context, so the key ring comes from [`with_key_ring`] on this thread,
/// else from [`install_key_ring`]; with neither, serialization fails and nothing is
/// written in clear. [`Sealed::seal_with`] and [`Sealed::open_with`] take a ring
/// explicitly.
///
/// What it does not do: hide the value's length (the ciphertext is as long as the JSON
/// plus 40 bytes, before base64), or tie a value to one record unless the context says so
/// (use [`KeyRing::seal`] with a per-record context for that). In memory the value is a
/// plain `T`; `Debug` prints `Sealed(..)` whatever `T` is.
///
/// In an OpenAPI document (of an `#[output]` type, say) a sealed field is a string
/// matching [`SEALED_PATTERN`](super::SEALED_PATTERN). utoipa names it after its type
/// arguments, so they must implement `ToSchema`: declare contexts with
/// [`seal_context!`](crate::seal_context), which does it.
///
/// [`with_key_ring`]: super::with_key_ring
/// [`install_key_ring`]: super::install_key_ring
pub struct Sealed<T, C = NoContext> {
    value: T,
    context: PhantomData<fn() -> C>,
}

impl<T, C> Sealed<T, C> {
    /// Wraps `value`, to be sealed when serialized.
    pub const fn new(value: T) -> Self {
        Sealed {
            value,
            context: PhantomData,
        }
    }

    /// The value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The value, to change it.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// The value, unwrapped.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: Serialize, C: SealContext> Sealed<T, C> {
    /// Seals the value with the current key of `ring`, as serialization does.
    pub fn seal_with(&self, ring: &KeyRing) -> Result<String, SealError> {
        ring.seal(&self.value, C::CONTEXT)
    }
}

impl<T: DeserializeOwned, C: SealContext> Sealed<T, C> {
    /// Opens a value sealed for context `C`, with the key of `ring` it names.
    pub fn open_with(sealed: &str, ring: &KeyRing) -> Result<Self, SealError> {
        ring.open(sealed, C::CONTEXT).map(Sealed::new)
    }
}

impl<T, C> fmt::Debug for Sealed<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(..)")
    }
}

impl<T: Clone, C> Clone for Sealed<T, C> {
    fn clone(&self) -> Self {
        Sealed::new(self.value.clone())
    }
}

impl<T: PartialEq, C> PartialEq for Sealed<T, C> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq, C> Eq for Sealed<T, C> {}

impl<T: Default, C> Default for Sealed<T, C> {
    fn default() -> Self {
        Sealed::new(T::default())
    }
}

impl<T, C> From<T> for Sealed<T, C> {
    fn from(value: T) -> Self {
        Sealed::new(value)
    }
}

impl<T: Serialize, C: SealContext> Serialize for Sealed<T, C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ring = current_key_ring().ok_or_else(|| S::Error::custom(SealError::NoKeyRing))?;
        let sealed = self.seal_with(&ring).map_err(S::Error::custom)?;
        serializer.serialize_str(&sealed)
    }
}

impl<'de, T: DeserializeOwned, C: SealContext> Deserialize<'de> for Sealed<T, C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let sealed = String::deserialize(deserializer)?;
        let ring = current_key_ring().ok_or_else(|| D::Error::custom(SealError::NoKeyRing))?;
        Sealed::open_with(&sealed, &ring).map_err(D::Error::custom)
    }
}

/// Declares [`SealContext`] types: empty enums naming where sealed values belong, also
/// usable as type arguments in OpenAPI documentation.
///
/// ```
/// use portcullis_runtime::secrets::{SealContext, Sealed};
///
/// portcullis_runtime::seal_context! {
///     /// An order's delivery address.
///     pub DeliveryAddress = "orders.delivery_address";
///     /// An order's billing address.
///     pub BillingAddress = "orders.billing_address";
/// }
///
/// assert_eq!(DeliveryAddress::CONTEXT, "orders.delivery_address");
/// let field: Sealed<String, BillingAddress> = Sealed::new("1 Main St".into());
/// ```
#[macro_export]
macro_rules! seal_context {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $context:literal);+ $(;)?) => {$(
        $(#[$meta])*
        $vis enum $name {}

        impl $crate::secrets::SealContext for $name {
            const CONTEXT: &'static str = $context;
        }

        impl $crate::__private::utoipa::__dev::ComposeSchema for $name {
            fn compose(
                _: ::std::vec::Vec<
                    $crate::__private::utoipa::openapi::RefOr<
                        $crate::__private::utoipa::openapi::schema::Schema,
                    >,
                >,
            ) -> $crate::__private::utoipa::openapi::RefOr<
                $crate::__private::utoipa::openapi::schema::Schema,
            > {
                $crate::secrets::__context_schema()
            }
        }

        impl $crate::__private::utoipa::ToSchema for $name {}
    )+};
}
