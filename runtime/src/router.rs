//! Mounting endpoints: `routes!` collects annotated handlers, [`SecureRouter`] wires each
//! to its security pipeline and yields a plain `axum::Router`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::handler::Handler;
use axum::response::IntoResponse;
use axum::routing::MethodRouter;
use http::StatusCode;

use crate::authz::ScopeRegistry;
use crate::config::Security;
use crate::endpoint::{Access, HttpMethod};
use crate::endpoint::{Endpoint, EndpointMeta, EndpointSpec};
use crate::openapi::{OpenApiError, OpenApiInfo};
use crate::pipeline::{EndpointContext, Secured};
use crate::problem::Problem;
use crate::rate::{EndpointRate, RateKeyKind};

/// How often idle rate-limit keys are forgotten.
const EVICTION_INTERVAL: Duration = Duration::from_secs(60);

/// A set of annotated handlers, built by `routes![...]`.
pub struct Routes<S = ()> {
    endpoints: Vec<Mounted<S>>,
}

struct Mounted<S> {
    spec: &'static EndpointSpec,
    /// The handler's route, its security inside, once the endpoint's context is built.
    route: RouteMaker<S>,
}

type RouteMaker<S> = Box<dyn FnOnce(Arc<EndpointContext>) -> MethodRouter<S> + Send + Sync>;

impl<S> Mounted<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn new<H, T>(spec: &'static EndpointSpec, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let route =
            move |context| axum::routing::on(spec.method.filter(), Secured::new(handler, context));
        Mounted {
            spec,
            route: Box::new(route),
        }
    }
}

impl<S> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            endpoints: Vec::new(),
        }
    }
}

impl<S> std::fmt::Debug for Routes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.endpoints
                    .iter()
                    .map(|m| (m.spec.method.as_str(), m.spec.path)),
            )
            .finish()
    }
}

impl<S> Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// No routes.
    pub fn new() -> Self {
        Routes::default()
    }

    /// Adds one handler. It must carry `#[secure]` or `#[public]`; `routes!` calls this.
    pub fn with<H, A, T>(mut self, handler: H) -> Self
    where
        H: Endpoint<A> + Handler<T, S>,
        T: 'static,
    {
        let spec = <H::Meta as EndpointMeta>::SPEC;
        self.endpoints.push(Mounted::new(spec, handler));
        self
    }

    /// Adds every route of `other`.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.endpoints.extend(other.endpoints);
        self
    }

    /// The endpoints, in the order they were added.
    pub fn specs(&self) -> impl Iterator<Item = &'static EndpointSpec> + '_ {
        self.endpoints.iter().map(|mounted| mounted.spec)
    }
}

/// Why endpoints could not be mounted together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// Two handlers declare the same method and path.
    #[error("`{first}` and `{second}` both declare {method} {path}")]
    DuplicateRoute {
        /// The method.
        method: &'static str,
        /// The path.
        path: &'static str,
        /// The first handler.
        first: &'static str,
        /// The second handler.
        second: &'static str,
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
    /// Endpoints use scopes from two different `scopes!` declarations.
    #[error(
        "`{0}` uses scopes from another `scopes!` declaration than the endpoints before it; \
         declare all scopes of an API once"
    )]
    ConflictingScopeRegistries(&'static str),
}

/// The router of a secure API: mount annotated handlers, then take the `axum::Router`.
///
/// ```ignore
/// let app: axum::Router = SecureRouter::new(security)
///     .mount(routes![get_order, create_order, health])
///     .into_router()
///     .with_state(state);
/// ```
///
/// The result is an ordinary `axum::Router`: nest it, merge it, add layers, serve it.
pub struct SecureRouter<S = ()> {
    security: Security,
    endpoints: Vec<Mounted<S>>,
    openapi_path: Option<&'static str>,
    openapi_info: OpenApiInfo,
}

impl<S> std::fmt::Debug for SecureRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureRouter")
            .field("security", &self.security)
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

impl<S> SecureRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// A router with no endpoints yet.
    pub fn new(security: Security) -> Self {
        SecureRouter {
            security,
            endpoints: Vec::new(),
            openapi_path: None,
            openapi_info: OpenApiInfo::default(),
        }
    }

    /// Mounts `routes`.
    pub fn mount(mut self, routes: Routes<S>) -> Self {
        self.endpoints.extend(routes.endpoints);
        self
    }

    /// Every endpoint mounted, in order.
    pub fn endpoints(&self) -> impl Iterator<Item = &'static EndpointSpec> + '_ {
        self.endpoints.iter().map(|mounted| mounted.spec)
    }

    /// The security configuration.
    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Serves the OpenAPI document of the mounted endpoints at `path` (GET, public, rate
    /// limited per IP at the default rate), like `"/openapi.json"`.
    pub fn with_openapi(mut self, path: &'static str) -> Self {
        self.openapi_path = Some(path);
        self
    }

    /// The title, version and description of the OpenAPI document.
    pub fn openapi_info(mut self, info: OpenApiInfo) -> Self {
        self.openapi_info = info;
        self
    }

    /// The security inventory of the mounted endpoints: method, path, access, rate and key
    /// of each, sorted, to print at start-up or keep as a snapshot.
    pub fn inventory(&self) -> crate::Inventory {
        crate::Inventory::new(self.endpoints(), &self.security)
    }

    /// The OpenAPI 3.1 document of the mounted endpoints.
    pub fn openapi(&self) -> Result<utoipa::openapi::OpenApi, RouterError> {
        let registry = self.check()?;
        let specs: Vec<&'static EndpointSpec> = self.endpoints().collect();
        Ok(crate::openapi::build(
            &specs,
            &self.security,
            registry,
            &self.openapi_info,
        )?)
    }

    /// Builds the `axum::Router`, or says why the endpoints cannot be served together.
    pub fn try_into_router(mut self) -> Result<Router<S>, RouterError> {
        if let Some(path) = self.openapi_path {
            let document = Arc::new(ServedDocument::new(
                &self.openapi()?,
                OpenApiInputs {
                    specs: self.endpoints().collect(),
                    security: self.security.clone(),
                    registry: self.check()?,
                    info: self.openapi_info.clone(),
                },
            ));
            let serve = move || {
                let json = document.json();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], json) }
            };
            self.endpoints
                .push(Mounted::new(openapi_endpoint(path), serve));
        }
        let registry = self.check()?;
        let mut paths: Vec<(&'static str, MethodRouter<S>)> = Vec::new();
        let mut contexts = Vec::with_capacity(self.endpoints.len());
        for Mounted { spec, route } in self.endpoints {
            let context = Arc::new(EndpointContext::new(self.security.clone(), spec, registry));
            contexts.push(Arc::downgrade(&context));
            let secured = route(context);
            match paths.iter_mut().find(|(path, _)| *path == spec.path) {
                Some((_, existing)) => *existing = std::mem::take(existing).merge(secured),
                None => paths.push((spec.path, secured)),
            }
        }
        spawn_eviction(contexts);
        let router = paths
            .into_iter()
            .fold(Router::new(), |router, (path, method_router)| {
                router.route(path, method_router)
            });
        Ok(router.fallback(not_found))
    }

    /// Builds the `axum::Router`.
    ///
    /// # Panics
    ///
    /// When the endpoints cannot be served together (see [`RouterError`]); at start-up,
    /// never on a request.
    pub fn into_router(self) -> Router<S> {
        match self.try_into_router() {
            Ok(router) => router,
            Err(error) => panic!("portcullis: {error}"),
        }
    }

    fn check(&self) -> Result<Option<&'static ScopeRegistry>, RouterError> {
        let mut registry: Option<&'static ScopeRegistry> = None;
        for (index, mounted) in self.endpoints.iter().enumerate() {
            let spec = mounted.spec;
            if let Some(earlier) = self.endpoints[..index]
                .iter()
                .find(|other| other.spec.path == spec.path && other.spec.method == spec.method)
            {
                return Err(RouterError::DuplicateRoute {
                    method: spec.method.as_str(),
                    path: spec.path,
                    first: earlier.spec.handler,
                    second: spec.handler,
                });
            }
            let Some(requirements) = spec.requirements() else {
                continue;
            };
            if !self.security.has_issuers() {
                return Err(RouterError::NoIssuer(spec.handler));
            }
            match (registry, requirements.registry) {
                (Some(known), Some(own)) if !std::ptr::eq(known, own) => {
                    return Err(RouterError::ConflictingScopeRegistries(spec.handler));
                }
                (None, Some(own)) => registry = Some(own),
                _ => {}
            }
        }
        Ok(registry)
    }
}

/// What the OpenAPI document is built from.
struct OpenApiInputs {
    specs: Vec<&'static EndpointSpec>,
    security: Security,
    registry: Option<&'static ScopeRegistry>,
    info: OpenApiInfo,
}

/// The OpenAPI document served by [`SecureRouter::with_openapi`]. When some issuer was
/// still waiting for its keys when it was built, it is built again once, when every issuer
/// has them: a token endpoint found by discovery then appears in it.
struct ServedDocument {
    json: std::sync::RwLock<bytes::Bytes>,
    /// Kept until the document has been built with every issuer ready.
    rebuild: std::sync::Mutex<Option<OpenApiInputs>>,
}

impl ServedDocument {
    fn new(document: &utoipa::openapi::OpenApi, inputs: OpenApiInputs) -> ServedDocument {
        let complete = inputs.security.readiness().is_ready();
        ServedDocument {
            json: std::sync::RwLock::new(to_json(document)),
            rebuild: std::sync::Mutex::new((!complete).then_some(inputs)),
        }
    }

    /// The document now: built again first, if that is due.
    fn json(&self) -> bytes::Bytes {
        let mut rebuild = self
            .rebuild
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(inputs) = rebuild.as_ref()
            && inputs.security.readiness().is_ready()
        {
            // The same inputs built the first document: this cannot fail, and if it did,
            // the first document is kept.
            if let Ok(document) = crate::openapi::build(
                &inputs.specs,
                &inputs.security,
                inputs.registry,
                &inputs.info,
            ) {
                *self
                    .json
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = to_json(&document);
            }
            *rebuild = None;
        }
        drop(rebuild);
        self.json
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

fn to_json(document: &utoipa::openapi::OpenApi) -> bytes::Bytes {
    bytes::Bytes::from(serde_json::to_vec(document).unwrap_or_default())
}

/// The record of the endpoint serving the OpenAPI document. It is built at run time
/// (the path is the caller's) and lives as long as the program, like the records the
/// attributes generate; one per router built.
fn openapi_endpoint(path: &'static str) -> &'static EndpointSpec {
    Box::leak(Box::new(EndpointSpec {
        handler: "openapi",
        module: module_path!(),
        method: HttpMethod::Get,
        path,
        path_params: &[],
        access: Access::Public,
        rate: EndpointRate::Default,
        rate_key: RateKeyKind::Ip,
        body_limit: None,
        summary: Some("The OpenAPI document of this API"),
        description: None,
        tags: &[],
        operation_id: Some("openapi"),
        success_status: None,
        errors: &[],
        document: |_| {},
    }))
}

async fn not_found() -> impl IntoResponse {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not Found").with_detail("no such route")
}

/// Forgets idle rate-limit keys every minute, for as long as the endpoints live.
fn spawn_eviction(contexts: Vec<Weak<EndpointContext>>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!(target: "portcullis", "no tokio runtime: idle rate-limit keys are not evicted");
        return;
    };
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(EVICTION_INTERVAL);
        interval.tick().await;
        loop {
            interval.tick().await;
            let mut alive = false;
            for context in contexts.iter().filter_map(Weak::upgrade) {
                alive = true;
                context.evict_idle();
            }
            if !alive {
                break;
            }
        }
    });
}
