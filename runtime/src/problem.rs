//! RFC 9457 problem details: the body of every rejection.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of every problem `type` URI Portcullis emits.
///
/// RFC 9457 allows non-resolvable type URIs; `tag:` URIs (RFC 4151) are stable names that
/// never point at a server.
pub const PROBLEM_TYPE_PREFIX: &str = "tag:portcullis.rs,2026:problem:";

/// One invalid field of a rejected input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    /// Where the value is: a dotted path such as `items[2].quantity`; empty for the
    /// input as a whole.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// A problem details document (RFC 9457) with its status code.
///
/// Every rejection of Portcullis renders through this type, so every error a client sees
/// has the same shape:
///
/// ```json
/// {"type": "tag:portcullis.rs,2026:problem:invalid-input", "title": "Invalid input",
///  "status": 422, "detail": "the request body failed validation",
///  "errors": [{"path": "quantity", "message": "greater than 1000"}]}
/// ```
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: Cow<'static, str>,
    detail: Option<Cow<'static, str>>,
    errors: Vec<FieldViolation>,
    type_uri: Option<&'static str>,
    extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "<[FieldViolation]>::is_empty")]
    errors: &'a [FieldViolation],
    #[serde(flatten)]
    extensions: &'a serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// A problem with `status`, a short kebab-case `kind` (the last part of its type URI)
    /// and a human `title`.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        Problem {
            status,
            kind,
            title: title.into(),
            detail: None,
            errors: Vec::new(),
            type_uri: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// Adds an explanation specific to this occurrence.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds the invalid fields of an input.
    pub fn with_errors(mut self, errors: Vec<FieldViolation>) -> Self {
        self.errors = errors;
        self
    }

    /// Uses a problem type defined elsewhere (a registered URI) instead of Portcullis' own.
    pub fn with_type_uri(mut self, uri: &'static str) -> Self {
        self.type_uri = Some(uri);
        self
    }

    /// Adds an extension member (RFC 9457 §3.2).
    pub fn with_extension(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The kind, the last part of the `type` URI.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The detail, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The invalid fields, if any.
    pub fn errors(&self) -> &[FieldViolation] {
        &self.errors
    }

    /// The full `type` URI.
    pub fn type_uri(&self) -> String {
        match self.type_uri {
            Some(uri) => uri.to_owned(),
            None => format!("{PROBLEM_TYPE_PREFIX}{}", self.kind),
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        let body = ProblemBody {
            kind: self.type_uri(),
            title: &self.title,
            status: self.status.as_u16(),
            detail: self.detail.as_deref(),
            errors: &self.errors,
            extensions: &self.extensions,
        };
        // Serializing strings and numbers into a Vec cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// The problem-details response. The response keeps the `Problem` in its extensions, so
/// that an [`ErrorRenderer`](crate::ErrorRenderer) the app configured can render it in
/// the app's own format.
impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.to_json()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self);
        response
    }
}

/// An error a handler returns, rendered as problem details.
///
/// ```
/// use portcullis_runtime::ApiError;
///
/// fn find(id: u64) -> Result<String, ApiError> {
///     Err(ApiError::not_found(format!("no order {id}")))
/// }
/// assert_eq!(find(7).unwrap_err().problem().status(), 404);
/// ```
#[derive(Debug, Clone)]
pub struct ApiError(Problem);

impl ApiError {
    /// An error with any status; `kind` names it in the problem `type` URI.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        ApiError(Problem::new(status, kind, title).with_detail(detail))
    }

    /// 404 Not Found.
    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 409 Conflict.
    pub fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 403 Forbidden, for decisions a handler makes itself.
    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 500 Internal Server Error. The cause is logged, never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(target: "portcullis", error = %cause, "handler failed");
        ApiError(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
        ))
    }

    /// The problem this error renders as.
    pub fn problem(&self) -> &Problem {
        &self.0
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError(problem)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc9457_json() {
        let problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Invalid input",
        )
        .with_detail("bad")
        .with_errors(vec![FieldViolation {
            path: "a.b".into(),
            message: "too long".into(),
        }]);
        let json: serde_json::Value = serde_json::from_slice(&problem.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "tag:portcullis.rs,2026:problem:invalid-input",
                "title": "Invalid input",
                "status": 422,
                "detail": "bad",
                "errors": [{"path": "a.b", "message": "too long"}],
            })
        );
        let response = problem.into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
