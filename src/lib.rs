//! # Portcullis
//!
//! Secure HTTP APIs on [axum](https://docs.rs/axum): one attribute on a handler says what
//! the endpoint is, who may call it, how often, and what it accepts; authentication,
//! authorization, rate limits, validation and the OpenAPI document follow from it, and
//! every misuse is a compile error.
//!
//! ```
//! use portcullis::prelude::*;
//!
//! portcullis::scopes! {
//!     "orders:read"  => "Read orders",
//!     "orders:write" => "Create orders",
//! }
//!
//! /// One order.
//! #[output]
//! struct Order {
//!     id: u64,
//!     item: String,
//! }
//!
//! /// A new order, as clients send it: unknown fields are refused, the rules checked.
//! #[input]
//! struct NewOrder {
//!     #[garde(length(chars, min = 1, max = 64))]
//!     item: String,
//! }
//!
//! /// Gets one order.
//! #[secure(get, path = "/orders/{id}", scope = "orders:read", rate = "100/min")]
//! async fn get_order(_who: Principal, Path(id): Path<u64>) -> Json<Order> {
//!     Json(Order { id, item: "tea".to_owned() })
//! }
//!
//! /// Creates an order.
//! #[secure(post, path = "/orders", scope = "orders:write", rate = "10/min")]
//! async fn create_order(_who: Principal, Json(new): Json<NewOrder>) -> Json<Order> {
//!     Json(Order { id: 1, item: new.item })
//! }
//!
//! /// Is the service up?
//! #[public(get, path = "/health", rate = "10/s")]
//! async fn health() -> &'static str {
//!     "ok"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let jwks = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! let security = Security::builder()
//!     .issuer(Issuer::new("https://idp.example.com/").audience("orders-api").jwks_json(jwks))
//!     .default_rate(rate!("600/min"))
//!     .build()
//!     .await?;
//! let api: SecureRouter = SecureRouter::new(security)
//!     .mount(routes![get_order, create_order, health])
//!     .with_openapi("/openapi.json");
//! // Behind the guard, which refuses every route not mounted here:
//! let app = api.into_service(); // serve it with portcullis::transport::serve
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! In production the issuer is your identity provider, found by discovery:
//! `Issuer::discover("https://idp.example.com/").audience("orders-api")`. The guide in the
//! repository's `docs/` directory has one page per task: getting started, the attribute
//! reference, identity providers, adopting Portcullis in an existing app, testing, rate
//! limits and Redis, OpenAPI, monitoring, secrets, TLS, the security model, performance
//! and troubleshooting.
//!
//! ## The attributes
//!
//! `#[secure(<method>, path = "...", <requirements>, [rate = "..."], [options])]`
//!
//! | key | meaning |
//! |---|---|
//! | `get`, `post`, `put`, `patch`, `delete`, `head`, `options` | the method (exactly one) |
//! | `path = "/orders/{id}"` | the route, axum syntax; `{name}` parameters, `{*rest}` last |
//! | `scope = "a"` | the token must grant scope `a` |
//! | `scopes = ["a", "b"]` | ... all of these |
//! | `any_scope = ["a", "b"]` | ... at least one of these |
//! | `roles = ["admin"]` | the token must carry all these roles (see [`RolesClaim`]) |
//! | `policy = path::to::fn` | a [`PolicyFn`](authz::PolicyFn) must allow |
//! | `rate = "100/min"` | N per s, sec, second, m, min, minute, h, hour, d, day; or `"unlimited"` |
//! | `burst = 10` | requests allowed at once (default: N) |
//! | `rate_key = client` | what is counted: `client` (default), `subject`, `ip`, `global`, or a key function `path::to::fn` (see [`rate::CustomRateKey`]) |
//! | `body_limit = 1048576` | the largest body, in bytes (default 64 KiB) |
//! | `status = 201`, `errors(404 = "...")` | the success status and the handler's own errors, for OpenAPI |
//! | `tag = "orders"`, `operation_id = "getOrder"` | OpenAPI |
//!
//! A `#[secure]` endpoint needs at least one requirement. `#[public(...)]` takes the same
//! keys but no requirements; it is rate limited per client IP. Doc comments become the
//! OpenAPI summary and description.
//!
//! ## What fails to compile
//!
//! Each of these is a compile error pointing at the mistake (see `tests/ui`): mounting a
//! handler without `#[secure]`/`#[public]`; a scope not declared in [`scopes!`] before the
//! endpoint; an unknown or repeated key; a missing method or path; a malformed path or
//! rate; `burst` without `rate`; a `#[secure]` endpoint without requirements; an
//! unvalidated extractor such as `axum::Json<T>`; a `Json<T>` whose `T` is not
//! [`#[input]`](macro@input); a [`Principal`] in a `#[public]` endpoint; `Path<..>` not
//! matching the path's parameters; a non-async handler; a policy or key function with the
//! wrong signature.
//!
//! ## One request
//!
//! 1. The bearer guard: one `Authorization: Bearer` header, size-capped, no token in the
//!    query string.
//! 2. Authentication: the algorithm from an allow-list and bound to the key type, the key
//!    by `kid`, the signature, then `iss`, `aud`, `exp`, `nbf`, `iat`, lifetime and `typ`.
//! 3. Authorization: scopes as bit sets, roles, the policy.
//! 4. Rate limit (GCRA, per endpoint and client).
//! 5. Validated extractors, then the handler.
//! 6. `Cache-Control: no-store` on authenticated responses; one audit event.
//!
//! Every refusal is RFC 9457 problem details, or the API's own format with an
//! [`ErrorRenderer`]; 401 and 403 carry RFC 6750 challenges.
//!
//! ## Transport
//!
//! [`transport::serve`] serves an app with the client's address, which IP-keyed limits
//! need. The [`Guard`] adds `X-Content-Type-Options: nosniff` to every response, and
//! `Strict-Transport-Security` once given an HSTS policy (served over TLS). With the `tls` feature,
//! `transport::serve_tls` serves over HTTPS with rustls (TLS 1.2 and 1.3 only, HTTP/2 by
//! ALPN). No CORS headers are sent unless you add a CORS layer: cross-origin browser calls
//! are closed by default.
//!
//! ## Testing
//!
//! With the `testing` feature (for dev-dependencies), `portcullis::testing` signs tokens
//! with chosen scopes, roles and claims for the issuer URL and audience the app trusts in
//! production, builds the `Security` that trusts them, and sends requests through the app
//! in process; see the guide's page on testing.
//!
//! ## Building for production
//!
//! Build a service that uses Portcullis optimized across crates:
//!
//! ```toml
//! [profile.release]
//! lto = "fat"
//! codegen-units = 1
//! ```
//!
//! The pipeline lives in other crates than your handlers; without these two lines each
//! crate compiles its own copy of the generic code it uses and most calls between crates
//! are not inlined. The guide's performance page measures what they are worth.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use portcullis_runtime::*;

// The testing guide's code blocks, compiled and run as doc tests.
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../docs/testing.md")]
mod testing_guide {}

// The getting-started guide's code blocks (the development issuer: feature `dev`).
#[cfg(all(doctest, feature = "dev"))]
#[doc = include_str!("../docs/getting-started.md")]
mod getting_started_guide {}

// The attribute reference's code blocks.
#[cfg(doctest)]
#[doc = include_str!("../docs/attributes.md")]
mod attributes_guide {}

// The OpenAPI guide's code blocks (the reference page, the development issuer, the test kit).
#[cfg(all(
    doctest,
    feature = "api-reference",
    feature = "dev",
    feature = "testing"
))]
#[doc = include_str!("../docs/openapi.md")]
mod openapi_guide {}

// The troubleshooting guide: any code block it gets is compiled too.
#[cfg(doctest)]
#[doc = include_str!("../docs/troubleshooting.md")]
mod troubleshooting_guide {}

// The guide's other pages, their code blocks compiled and run as doc tests.
#[cfg(all(doctest, feature = "redis", feature = "testing"))]
#[doc = include_str!("../docs/rate-limits.md")]
mod rate_limits_guide {}
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../docs/redis.md")]
mod redis_guide {}
#[cfg(doctest)]
#[doc = include_str!("../docs/dpop.md")]
mod dpop_guide {}
#[cfg(doctest)]
#[doc = include_str!("../docs/introspection.md")]
mod introspection_guide {}
#[cfg(doctest)]
#[doc = include_str!("../docs/multi-tenant.md")]
mod multi_tenant_guide {}
#[cfg(all(doctest, feature = "tls"))]
#[doc = include_str!("../docs/certificate-bound-tokens.md")]
mod certificate_bound_tokens_guide {}
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../docs/monitoring.md")]
mod monitoring_guide {}
#[cfg(doctest)]
#[doc = include_str!("../docs/secrets.md")]
mod secrets_guide {}
#[cfg(all(doctest, feature = "tls", feature = "testing"))]
#[doc = include_str!("../docs/tls.md")]
mod tls_guide {}
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../docs/security-model.md")]
mod security_model_guide {}
#[cfg(doctest)]
#[doc = include_str!("../docs/performance.md")]
mod performance_guide {}

/// Declares a secured endpoint: authentication, authorization, rate limit and validated
/// inputs, from one attribute. See the [crate documentation](crate#the-attributes).
///
/// ```
/// use axum::http::StatusCode;
/// use portcullis::prelude::*;
///
/// portcullis::scopes! { "orders:admin" => "Delete orders" }
///
/// /// Deletes an order.
/// #[secure(delete, path = "/orders/{id}", scope = "orders:admin", rate = "10/min", status = 204)]
/// async fn delete_order(_who: Principal, Path(id): Path<u64>) -> StatusCode {
///     StatusCode::NO_CONTENT
/// }
/// # fn main() {}
/// ```
pub use portcullis_macros::secure;

/// Declares an endpoint anyone may call, rate limited per client IP.
///
/// ```
/// use portcullis::prelude::*;
///
/// #[public(get, path = "/health", rate = "10/s")]
/// async fn health() -> &'static str {
///     "ok"
/// }
/// # fn main() {}
/// ```
pub use portcullis_macros::public;

/// Makes a struct a validated input: unknown fields are refused, garde rules are checked,
/// and it can be taken as `Json<T>`, `Query<T>`, `Form<T>` or `Path<T>`.
///
/// The garde rules are garde's own, so the `garde` crate must be a direct dependency
/// (`garde = { version = "0.23", features = ["derive"] }`): its derive names `::garde`.
///
/// ```
/// use portcullis::prelude::*;
///
/// #[input]
/// struct NewOrder {
///     #[garde(length(chars, min = 1, max = 64))]
///     item: String,
///     #[garde(range(min = 1, max = 1000))]
///     quantity: u32,
/// }
/// # fn main() {}
/// ```
pub use portcullis_macros::input;

/// Makes a type a documented response: it derives serde's `Serialize` and utoipa's
/// `ToSchema` (through Portcullis, so neither is needed in your manifest), and `Json<T>`
/// responses of it appear in the OpenAPI document with its schema. `#[serde(...)]` and
/// utoipa's `#[schema(...)]` attributes work as usual.
///
/// ```
/// use portcullis::prelude::*;
///
/// #[output]
/// struct Order {
///     id: u64,
///     item: String,
/// }
/// # fn main() {}
/// ```
pub use portcullis_macros::output;

/// Declares the scopes of an API, with a description each (the OpenAPI document lists
/// them). A `#[secure]` endpoint finds the nearest declaration before it, in its module or
/// an enclosing one, as a `macro_rules!` macro would: invoke it at the top of the crate
/// root, before the `mod` lines, or at the top of a module for that module's scopes. A
/// scope that is not declared is a compile error on the scope, listing the declared ones.
///
/// ```
/// portcullis::scopes! {
///     "orders:read"  => "Read orders",
///     "orders:write" => "Create orders",
/// }
/// # fn main() {}
/// ```
pub use portcullis_macros::scopes;

/// A [`Rate`] checked at compile time: `rate!("600/min")`, `rate!("10/s", burst = 20)`.
///
/// ```
/// let rate = portcullis::rate!("600/min");
/// assert_eq!(rate, portcullis::Rate::per_minute(600));
/// ```
pub use portcullis_macros::rate;

/// Collects annotated handlers for [`SecureRouter::mount`]. A handler without `#[secure]`
/// or `#[public]` is a compile error.
///
/// ```
/// use portcullis::prelude::*;
///
/// #[public(get, path = "/health")]
/// async fn health() -> &'static str {
///     "ok"
/// }
///
/// # fn main() {
/// let routes: portcullis::Routes = routes![health];
/// # let _ = routes;
/// # }
/// ```
#[macro_export]
macro_rules! routes {
    // `expr`, not `path`: an `expr` fragment keeps the handler's own span, so an error
    // about a handler points at its name.
    ($($handler:expr),* $(,)?) => {
        $crate::Routes::new()$(.with($handler))*
    };
}

/// The names most handlers and set-ups need.
pub mod prelude {
    pub use crate::{
        ApiError, Claims, Form, Input, Issuer, Json, Path, PolicyDecision, PolicyRequest,
        Principal, Query, Rate, SecureRouter, Security, Unchecked, input, output, public, rate,
        routes, scopes, secure,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use portcullis_macros::resolve_scope;
    pub use portcullis_runtime::__private::*;
}

/// The identity provider guides of `docs/providers`: their Rust snippets are doc tests.
#[cfg(doctest)]
mod provider_guides {
    #[doc = include_str!("../docs/providers/keycloak.md")]
    mod keycloak {}
    #[doc = include_str!("../docs/providers/auth0.md")]
    mod auth0 {}
    #[doc = include_str!("../docs/providers/entra-id.md")]
    mod entra_id {}
    #[doc = include_str!("../docs/providers/okta.md")]
    mod okta {}
}

/// The adoption guide, `docs/adoption.md`: its Rust snippets are doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/adoption.md")]
mod adoption_guide {}
