//! The extractors a `#[secure]` or `#[public]` handler may take, and what each adds to the
//! endpoint's OpenAPI operation.

use crate::openapi::OperationDoc;

/// An extractor that is safe in a Portcullis handler: it validates what it extracts, or
/// extracts nothing the client controls unchecked.
///
/// `#[secure]` and `#[public]` check every handler argument against this trait, so that
/// an unvalidated input (`axum::Json<T>`, a raw `String` body) is a compile error.
/// Implement it for your own extractors once they validate their input.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a validated Portcullis extractor",
    label = "this argument would reach the handler without validation",
    note = "use `portcullis::Json`, `portcullis::Query`, `portcullis::Path` or `portcullis::Form` \
            (their types need `#[portcullis::input]`);\n      \
            wrap an extractor you trust as it is in `portcullis::Unchecked<...>`, \
            or implement `portcullis::SafeExtractor` for your own extractor"
)]
pub trait SafeExtractor {
    /// Describes what the extractor takes from the request in the endpoint's OpenAPI
    /// operation (parameters, body). Most extractors take nothing a client must know.
    fn document(_doc: &mut OperationDoc<'_>) {}
}

impl<S> SafeExtractor for axum::extract::State<S> {}
impl<T> SafeExtractor for axum::extract::Extension<T> {}
impl<T> SafeExtractor for axum::extract::ConnectInfo<T> {}
impl SafeExtractor for axum::extract::MatchedPath {}
impl SafeExtractor for axum::extract::OriginalUri {}
impl SafeExtractor for http::Method {}
impl SafeExtractor for http::Uri {}
impl SafeExtractor for http::Version {}
impl SafeExtractor for http::HeaderMap {}
impl SafeExtractor for crate::auth::Principal {}
impl SafeExtractor for Option<crate::auth::Principal> {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.optional_authentication();
    }
}
impl<T> SafeExtractor for crate::auth::Claims<T> {}
impl<T> SafeExtractor for Option<crate::auth::Claims<T>> {
    fn document(doc: &mut OperationDoc<'_>) {
        doc.optional_authentication();
    }
}
impl SafeExtractor for crate::context::RequestContext {}
/// The request id: a well-formed client id (at most 128 URL-safe characters) or a generated one.
impl SafeExtractor for crate::audit::RequestId {}
