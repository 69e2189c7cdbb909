//! Why endpoints could not be mounted together.

use crate::openapi::OpenApiError;

/// Why endpoints could not be mounted together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// Two handlers declare the same method and path.
    #[error("`{first}` and `{second}` both declare {method} {path}")]
    DuplicateRoute {
        /// The method.
        method: &'static str,
        /// The path, prefixes included.
        path: &'static str,
        /// The first handler.
        first: &'static str,
        /// The second handler.
        second: &'static str,
    },
    /// Two paths cannot be told apart by a router: the same segments with differently
    /// named parameters (`/orders/{id}` and `/orders/{order_id}`), or a wildcard where
    /// another route has a parameter.
    #[error(
        "`{first}` ({first_path}) and `{second}` ({second_path}) have paths that conflict; \
         name the parameters of one path alike in both, or move one of them"
    )]
    ConflictingRoutes {
        /// The first handler.
        first: &'static str,
        /// Its path.
        first_path: &'static str,
        /// The second handler.
        second: &'static str,
        /// Its path.
        second_path: &'static str,
    },
    /// Secured endpoints were mounted, but no issuer is configured, so every request
    /// would be refused.
    #[error(
        "`{0}` is #[secure] but the configuration trusts no token issuer; \
         add one with `Security::builder().issuer(...)`"
    )]
    NoIssuer(&'static str),
    /// The OpenAPI document could not be built.
    #[error(transparent)]
    OpenApi(#[from] OpenApiError),
    /// One scope is declared in two `scopes!` with different descriptions.
    #[error(
        "the scope \"{scope}\" is declared twice with different descriptions: \"{first}\" \
         (used by `{first_handler}`) and \"{second}\" (used by `{second_handler}`); \
         describe it alike in both `scopes!`"
    )]
    ConflictingScopeDescriptions {
        /// The scope.
        scope: &'static str,
        /// Its first description.
        first: &'static str,
        /// A handler using the first declaration.
        first_handler: &'static str,
        /// Its other description.
        second: &'static str,
        /// A handler using the other declaration.
        second_handler: &'static str,
    },
    /// The `scopes!` of the app's modules declare more scopes than a scope set holds.
    #[error(
        "the app's `scopes!` declare {0} different scopes together; at most {max} are supported",
        max = crate::authz::MAX_SCOPES
    )]
    TooManyScopes(usize),
    /// A prefix is not a path of plain segments.
    #[error("the prefix {prefix:?} is refused: {reason}")]
    InvalidPrefix {
        /// The prefix.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A router built with another [`Security`](crate::Security) was merged in: endpoints of one app share
    /// one configuration (one token cache, one throttle of failed authentication).
    #[error(
        "a SecureRouter built with another Security was merged or nested; build every \
         router of one app with clones of the same Security"
    )]
    DifferentSecurity,
    /// A route declared deliberately unsecured cannot be routed beside the others.
    #[error("the unsecured route {path:?} is refused: {reason}")]
    InvalidUnsecuredRoute {
        /// Its path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The API reference page is asked for, but no OpenAPI document for it to show.
    #[error(
        "the API reference page shows the OpenAPI document: call `with_openapi(\"/openapi.json\")` \
         as well as `with_api_reference`"
    )]
    ApiReferenceWithoutDocument,
    /// Two merged routers each serve an API reference page.
    #[error(
        "two merged routers each serve an API reference page; ask for it once, on the router that combines them"
    )]
    TwoApiReferences,
    /// The API reference page cannot be served as configured.
    #[error("the API reference page cannot be served: {0}")]
    ApiReference(String),
    /// Two merged routers each serve an OpenAPI document.
    #[error(
        "two merged routers each serve an OpenAPI document ({first} and {second}); call \
         `with_openapi` once, on the router that combines them: its document covers them all"
    )]
    TwoOpenApiDocuments {
        /// The first document's path.
        first: String,
        /// The second document's path.
        second: String,
    },
}
