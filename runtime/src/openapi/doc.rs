//! What one endpoint contributes to its OpenAPI operation, written by its extractors and
//! its return type.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::SchemaRegistry;
use crate::input::{Input, InputParameter};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParameterPlace {
    Path,
    Query,
}

/// The success response's content.
#[derive(Debug, Clone)]
pub(crate) struct ResponseContent {
    pub(crate) media_type: &'static str,
    pub(crate) schema: Option<RefOr<Schema>>,
}

/// The operation being documented. Each handler argument's
/// [`SafeExtractor::document`](crate::SafeExtractor::document) and the handler's return
/// type write into it.
#[derive(Debug)]
pub struct OperationDoc<'a> {
    registry: &'a mut SchemaRegistry,
    pub(crate) parameters: Vec<(ParameterPlace, InputParameter)>,
    pub(crate) body: Option<(&'static str, RefOr<Schema>)>,
    pub(crate) optional_authentication: bool,
    pub(crate) response: Option<ResponseContent>,
}

impl<'a> OperationDoc<'a> {
    pub(crate) fn new(registry: &'a mut SchemaRegistry) -> Self {
        OperationDoc {
            registry,
            parameters: Vec::new(),
            body: None,
            optional_authentication: false,
            response: None,
        }
    }

    /// The schemas of the document.
    pub fn registry(&mut self) -> &mut SchemaRegistry {
        self.registry
    }

    /// The path parameters are `T`.
    pub fn path_parameters<T: Input>(&mut self) {
        let parameters = T::parameters(self.registry);
        self.parameters
            .extend(parameters.into_iter().map(|p| (ParameterPlace::Path, p)));
    }

    /// The query string is `T`.
    pub fn query_parameters<T: Input>(&mut self) {
        let parameters = T::parameters(self.registry);
        self.parameters
            .extend(parameters.into_iter().map(|p| (ParameterPlace::Query, p)));
    }

    /// The body is `T` as JSON.
    pub fn json_body<T: Input>(&mut self) {
        self.body = Some(("application/json", T::schema(self.registry)));
    }

    /// The body is `T` as a URL-encoded form.
    pub fn form_body<T: Input>(&mut self) {
        self.body = Some((
            "application/x-www-form-urlencoded",
            T::schema(self.registry),
        ));
    }

    /// A public endpoint that also reads a bearer token when one is sent.
    pub fn optional_authentication(&mut self) {
        self.optional_authentication = true;
    }

    /// The success response has `media_type` content, of `schema` when known.
    pub fn respond_with(&mut self, media_type: &'static str, schema: Option<RefOr<Schema>>) {
        self.response = Some(ResponseContent { media_type, schema });
    }

    /// The success response has no content.
    pub fn respond_empty(&mut self) {
        self.response = None;
    }
}
