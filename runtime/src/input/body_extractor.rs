//! The extractors that read the request body, which a handler takes last.

/// An extractor that reads the request body. A request has one body, so a handler takes at
/// most one, as its last argument: `#[secure]` and `#[public]` say so at compile time.
///
/// Implement it for your own body extractors, so that the same check applies to them.
pub trait BodyExtractor {}

impl<T> BodyExtractor for super::Json<T> {}
impl<T> BodyExtractor for super::Form<T> {}
impl<E: BodyExtractor> BodyExtractor for super::Unchecked<E> {}
impl<T> BodyExtractor for axum::Json<T> {}
impl<T> BodyExtractor for axum::Form<T> {}
impl BodyExtractor for axum::extract::RawForm {}
impl BodyExtractor for axum::extract::Request {}
impl BodyExtractor for axum::body::Body {}
impl BodyExtractor for axum::body::Bytes {}
impl BodyExtractor for String {}
