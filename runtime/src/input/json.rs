//! `Json<T>`: a strictly parsed, validated JSON body.

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Input;
use super::body::{from_json, has_content_type, read_body};
use crate::rejection::InputRejection;

/// A JSON request body, parsed strictly and validated; or a JSON response.
///
/// As an extractor, `T` must be an [`Input`] (`#[portcullis::input]`): unknown fields and
/// duplicate fields are refused, then every garde rule is checked. Failures answer
/// 415 (not `application/json`), 413 (over the body limit), 400 (not JSON) or 422 (does
/// not fit, or breaks a rule), as problem details with the path of each field at fault.
///
/// As a response, any `T: Serialize` works.
///
/// ```
/// use portcullis_runtime::Json;
///
/// async fn echo(Json(numbers): Json<Vec<u32>>) -> Json<u32> {
///     Json(numbers.iter().sum())
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: Input,
    S: Send + Sync,
{
    type Rejection = InputRejection;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !has_content_type(&request, "application/json", true) {
            return Err(InputRejection::unsupported_media_type("application/json"));
        }
        let bytes = read_body(request).await?;
        let value: T = from_json(&bytes)?;
        value.validate_input().map_err(|errors| {
            InputRejection::invalid("the request body failed validation", errors)
        })?;
        Ok(Json(value))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<T: Input> super::SafeExtractor for Json<T> {
    fn document(doc: &mut crate::openapi::OperationDoc<'_>) {
        doc.json_body::<T>();
    }
}
