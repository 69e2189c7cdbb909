//! `Path<T>`: validated path parameters.

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::Input;
use crate::problem::FieldViolation;
use crate::rejection::InputRejection;

/// The path parameters of the route, parsed and validated.
///
/// `T` is a scalar (`Path<u64>`), a tuple (`Path<(String, u32)>`) or an `#[input]` struct
/// whose fields name the parameters. Failures answer 400 (does not parse) or 422 (breaks
/// a rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: Input,
    S: Send + Sync,
{
    type Rejection = InputRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                let message = rejection.body_text();
                let message = message
                    .strip_prefix("Invalid URL: ")
                    .unwrap_or(&message)
                    .to_owned();
                InputRejection::malformed(
                    "the path parameters do not parse",
                    vec![FieldViolation {
                        path: String::new(),
                        message,
                    }],
                )
            })?;
        value.validate_input().map_err(|errors| {
            InputRejection::invalid("the path parameters failed validation", errors)
        })?;
        Ok(Path(value))
    }
}

impl<T: Input> super::SafeExtractor for Path<T> {
    fn document(doc: &mut crate::openapi::OperationDoc<'_>) {
        doc.path_parameters::<T>();
    }
}
