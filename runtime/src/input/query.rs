//! `Query<T>`: a strictly parsed, validated query string.

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::Input;
use super::body::violation;
use crate::rejection::InputRejection;

/// The query string, parsed strictly and validated.
///
/// Failures answer 400 (does not fit the type: unknown parameters, wrong types, missing
/// parameters) or 422 (breaks a rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: Input,
    S: Send + Sync,
{
    type Rejection = InputRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            InputRejection::malformed(
                "the query string does not fit the expected parameters",
                violation(&error),
            )
        })?;
        value.validate_input().map_err(|errors| {
            InputRejection::invalid("the query string failed validation", errors)
        })?;
        Ok(Query(value))
    }
}

impl<T: Input> super::SafeExtractor for Query<T> {
    fn document(doc: &mut crate::openapi::OperationDoc<'_>) {
        doc.query_parameters::<T>();
    }
}
