//! The API's own error format: an [`ErrorRenderer`] renders the body of every rejection
//! Portcullis makes, while Portcullis keeps the status and its own header fields.

use std::fmt;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::header;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, schema::AdditionalProperties};

use crate::problem::Problem;

/// The schema of the error bodies an [`ErrorRenderer`] makes, for the OpenAPI document.
#[derive(Debug, Clone)]
pub struct ErrorSchema {
    /// The name of the schema in `components.schemas`.
    pub name: String,
    /// The media type of the bodies, such as `application/json`.
    pub media_type: String,
    /// The schema.
    pub schema: RefOr<Schema>,
}

impl ErrorSchema {
    /// The schema of `T` (a type with `#[output]`, or any `utoipa::ToSchema`), as
    /// `application/json`, named after the type.
    pub fn of<T: utoipa::ToSchema>() -> Self {
        ErrorSchema {
            name: T::name().into_owned(),
            media_type: "application/json".to_owned(),
            schema: T::schema(),
        }
    }
}

/// Renders the body of every rejection Portcullis makes (400, 401, 403, 404 and 405 of
/// the [`Guard`](crate::Guard), 413, 415, 422, 429, 500, 503) and of handlers'
/// [`ApiError`](crate::ApiError)s, in the API's own error format.
///
/// Portcullis passes the [`Problem`] it would have sent (status, kind, title, detail,
/// field errors) and keeps, whatever the renderer returns, the status and its own header
/// fields: `WWW-Authenticate`, `Retry-After`, `RateLimit-Policy`, `RateLimit`, `Allow`,
/// `X-Request-Id`. The renderer's body and `Content-Type` replace the problem document.
/// Without a renderer, bodies are RFC 9457 problem details.
///
/// ```
/// use axum::Json;
/// use axum::response::{IntoResponse, Response};
/// use portcullis_runtime::{ErrorRenderer, ErrorSchema, Problem};
///
/// /// The envelope every error of this API has.
/// #[derive(serde::Serialize, utoipa::ToSchema)]
/// struct Envelope {
///     code: String,
///     message: String,
/// }
///
/// struct EnvelopeErrors;
///
/// impl ErrorRenderer for EnvelopeErrors {
///     fn render(&self, problem: &Problem) -> Response {
///         let message = problem.detail().unwrap_or(problem.title()).to_owned();
///         Json(Envelope { code: problem.kind().to_owned(), message }).into_response()
///     }
///
///     fn schema(&self) -> ErrorSchema {
///         ErrorSchema::of::<Envelope>()
///     }
/// }
/// // Security::builder().error_renderer(EnvelopeErrors)
/// ```
pub trait ErrorRenderer: Send + Sync + 'static {
    /// The response for `problem`. Its status and Portcullis' header fields are set
    /// afterwards; its body, `Content-Type` and other fields it sets are kept.
    fn render(&self, problem: &Problem) -> Response;

    /// What the bodies look like, for the OpenAPI document (default: a JSON object).
    fn schema(&self) -> ErrorSchema {
        ErrorSchema {
            name: "Error".to_owned(),
            media_type: "application/json".to_owned(),
            schema: ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Object))
                .additional_properties(Some(AdditionalProperties::FreeForm(true)))
                .into(),
        }
    }
}

/// The configured renderer, if any.
#[derive(Clone, Default)]
pub(crate) struct Renderer(Option<Arc<dyn ErrorRenderer>>);

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Renderer(custom)"
        } else {
            "Renderer(problem+json)"
        })
    }
}

impl Renderer {
    pub(crate) fn custom(renderer: Arc<dyn ErrorRenderer>) -> Self {
        Renderer(Some(renderer))
    }

    /// The renderer's schema, when one is configured.
    pub(crate) fn schema(&self) -> Option<ErrorSchema> {
        self.0.as_ref().map(|renderer| renderer.schema())
    }

    /// `problem` as a response.
    pub(crate) fn problem(&self, problem: Problem) -> Response {
        let mut response = problem.into_response();
        self.finish(&mut response);
        response
    }

    /// Renders `response`'s problem, if it carries one, with the configured renderer; a
    /// response without a problem, or without a renderer configured, is left alone.
    #[inline]
    pub(crate) fn finish(&self, response: &mut Response) {
        if let Some(renderer) = &self.0 {
            Self::render_problem_of(renderer.as_ref(), response);
        }
    }

    /// The response's problem, if it carries one, rendered by `renderer`.
    fn render_problem_of(renderer: &dyn ErrorRenderer, response: &mut Response) {
        let Some(problem) = response.extensions_mut().remove::<Problem>() else {
            return;
        };
        let (parts, body) = renderer.render(&problem).into_parts();
        *response.body_mut() = body;
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_TYPE);
        for name in parts.headers.keys() {
            if !headers.contains_key(name) {
                for value in parts.headers.get_all(name) {
                    headers.append(name, value.clone());
                }
            }
        }
    }
}
