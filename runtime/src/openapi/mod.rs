//! The OpenAPI 3.1 document: built from the endpoints' attributes, so that what the
//! document says is what the server does.
//!
//! Each operation states its parameters and body (from the validated extractors, with the
//! garde rules as JSON Schema constraints, see [`rules`]), its success response (from the
//! return type), every rejection it can return (401/403 with `WWW-Authenticate`, 429 with
//! `Retry-After`, 400/413/415/422 where it has inputs, each a [`Problem`](crate::Problem)),
//! its `security` (the exact scopes: all-of as one requirement, any-of as alternatives;
//! `[]` for public endpoints) and its rate as `x-ratelimit`.

mod doc;
mod document;
pub mod probe;
#[cfg(feature = "api-reference")]
mod reference;
mod registry;
pub mod rules;

pub use doc::OperationDoc;
pub(crate) use document::effective_rate;
pub use document::{OpenApiError, OpenApiInfo, PROBLEM_SCHEMA, build, problem_schema};
#[cfg(feature = "api-reference")]
pub use reference::{ApiReference, ApiReferenceError};
pub use registry::SchemaRegistry;
pub(crate) use registry::{description_of, with_description};
