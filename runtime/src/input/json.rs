//! `Json<T>`: a strictly parsed, validated JSON body.

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use bytes::BufMut as _;
use http::{HeaderMap, HeaderValue, header};
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
    /// `T` as `application/json`, in a header map with room for the fields a secured
    /// response gets on its way out (so it is allocated once, not rebuilt when it fills
    /// up). A value that does not serialize is a 500 problem, as
    /// [`ApiError::internal`](crate::ApiError::internal) makes it: the serializer's message
    /// is logged, never sent, since a `Serialize` implementation may put data into it.
    fn into_response(self) -> Response {
        // As serde_json's own `to_vec`: 128 bytes to start with.
        let mut body = bytes::BytesMut::with_capacity(128).writer();
        let serialized = serde_json::to_writer(&mut body, &self.0);
        json_response(body.into_inner(), serialized)
    }
}

/// The response of [`Json`]'s `into_response`, compiled once for every `T`.
fn json_response(body: bytes::BytesMut, serialized: serde_json::Result<()>) -> Response {
    match serialized {
        Ok(()) => {
            let mut response = Response::new(axum::body::Body::from(body.freeze()));
            let mut headers = HeaderMap::with_capacity(crate::context::RESPONSE_FIELDS);
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            *response.headers_mut() = headers;
            response
        }
        Err(error) => crate::ApiError::internal(format_args!(
            "the response body does not serialize: {error}"
        ))
        .into_response(),
    }
}

impl<T: Input> super::SafeExtractor for Json<T> {
    fn document(doc: &mut crate::openapi::OperationDoc<'_>) {
        doc.json_body::<T>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[tokio::test]
    async fn a_response_is_json_with_room_for_the_secured_fields() {
        let response = Json(serde_json::json!({"id": 7, "item": "tea"})).into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert!(response.headers().capacity() >= crate::context::RESPONSE_FIELDS);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"id":7,"item":"tea"}"#);
    }

    /// A value whose serialization fails.
    struct Unserializable;

    impl Serialize for Unserializable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no way"))
        }
    }

    #[tokio::test]
    async fn a_value_that_does_not_serialize_is_a_500_problem_without_the_serializer_s_message() {
        let response = Json(Unserializable).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            problem["type"], "tag:portcullis.rs,2026:problem:internal",
            "{problem}"
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("no way"),
            "the serializer's message is not sent: {problem}"
        );
    }
}
