//! `Form<T>`: a strictly parsed, validated URL-encoded form body.

use axum::extract::{FromRequest, Request};

use super::Input;
use super::body::{read_body, violation};
use crate::rejection::InputRejection;

/// An `application/x-www-form-urlencoded` body, parsed strictly and validated.
///
/// Failures answer 415, 413, 422 (does not fit the type, or breaks a rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: Input,
    S: Send + Sync,
{
    type Rejection = InputRejection;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !super::body::has_content_type(&request, "application/x-www-form-urlencoded", false) {
            return Err(InputRejection::unsupported_media_type(
                "application/x-www-form-urlencoded",
            ));
        }
        let bytes = read_body(request).await?;
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        let value: T = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            InputRejection::invalid(
                "the form does not fit the expected schema",
                violation(&error),
            )
        })?;
        value
            .validate_input()
            .map_err(|errors| InputRejection::invalid("the form failed validation", errors))?;
        Ok(Form(value))
    }
}

impl<T: Input> super::SafeExtractor for Form<T> {
    fn document(doc: &mut crate::openapi::OperationDoc<'_>) {
        doc.form_body::<T>();
    }
}
