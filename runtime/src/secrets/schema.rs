//! The OpenAPI schema of a sealed field: an opaque string in the `pcs1` format.
//!
//! utoipa's derive describes a field of a generic type through `ComposeSchema` (the trait
//! its own derive implements for generic types) and names it after its type arguments,
//! so those must implement `ToSchema`: `T` usually does in a documented type, and
//! [`seal_context!`](crate::seal_context) makes context types that do. The schema itself
//! ignores them: whatever `T` is, a sealed value is an opaque string.

use std::borrow::Cow;

use utoipa::__dev::ComposeSchema;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

use super::{NoContext, Sealed};

/// What a sealed value matches.
pub const SEALED_PATTERN: &str = r"^pcs1\.(0|[1-9][0-9]{0,9})\.[A-Za-z0-9_-]{54,}$";

/// The schema of every [`Sealed`] value: a string matching [`SEALED_PATTERN`].
pub fn sealed_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(SEALED_PATTERN))
        .description(Some(
            "A value encrypted at rest: `pcs1.<key version>.<base64url(nonce || ciphertext \
             || tag)>` (XChaCha20-Poly1305). Opaque to clients.",
        ))
        .into()
}

/// The schema of a [`SealContext`](super::SealContext) type, never used on its own.
#[doc(hidden)]
pub fn context_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Null))
        .into()
}

impl<T, C> ComposeSchema for Sealed<T, C> {
    fn compose(_generics: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        sealed_schema()
    }
}

impl<T, C> ToSchema for Sealed<T, C> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Sealed")
    }
}

impl ComposeSchema for NoContext {
    fn compose(_generics: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        context_schema()
    }
}

impl ToSchema for NoContext {}
