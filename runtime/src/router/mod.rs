//! Mounting endpoints: `routes!` collects annotated handlers, [`SecureRouter`] wires each
//! to its security pipeline, combines modules, prefixes and the app's deliberately
//! unsecured routes, and yields a plain `axum::Router` and the [`Guard`] that keeps every
//! other route of the app closed.

mod error;
mod plan;
mod routes;
mod scopes;

pub use error::RouterError;
pub use routes::{Mountable, Routes};

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use axum::Router;
use axum::routing::MethodRouter;
use bytes::Bytes;

use crate::context::EndpointContext;
use crate::endpoint::{Access, EndpointSpec, HttpMethod, MountedEndpoint};
use crate::guard::{Guard, UnsecuredRoute};
use crate::openapi::OpenApiInfo;
use crate::rate::{EndpointRate, RateKeyKind};
use crate::security::Security;
use crate::static_value::str_for_life;
use plan::{BUILTIN_MODULE, Plan, Planned};
use routes::Mounted;

/// How often idle rate-limit keys are forgotten.
const EVICTION_INTERVAL: Duration = Duration::from_secs(60);

/// The router of a secure API: mount annotated handlers, then take the `axum::Router`.
///
/// ```
/// # use portcullis_runtime::{SecureRouter, Security, Routes};
/// # fn example(security: Security, orders: Routes, billing: Routes) {
/// let api: SecureRouter = SecureRouter::new(security)
///     .mount(orders)                 // routes![list_orders, get_order].with_state(orders_state)
///     .mount_at("/billing", billing) // under /billing
///     .prefix("/api/v1")             // everything under /api/v1
///     .with_openapi("/openapi.json"); // served at /api/v1/openapi.json
/// let service = api.into_service(); // behind the guard: serve it
/// # let _ = service;
/// # }
/// ```
///
/// [`into_service`](SecureRouter::into_service) and
/// [`into_service_with`](SecureRouter::into_service_with) (beside an app's own routes) give
/// the service to serve, behind the [`Guard`]. [`into_router`](SecureRouter::into_router)
/// gives an ordinary `axum::Router` of the endpoints alone (it installs no fallback unless
/// [`with_not_found`](SecureRouter::with_not_found) asks for one). Prefixes given here show
/// in the OpenAPI document, the inventory, the audit events and the rate-limit policy
/// names; a plain `Router::nest` works too but none of those know of its prefix, and the
/// [`Guard`] would not find the routes under it.
///
/// Modules of one app each make their routes (with their own state and their own
/// `scopes!`) and one `SecureRouter` mounts them all, so that the app has one OpenAPI
/// document, one inventory and one [`Security`].
pub struct SecureRouter<S = ()> {
    security: Security,
    prefix: String,
    endpoints: Vec<Mounted<S>>,
    /// The path of the OpenAPI document, under the prefixes of the router that asked.
    openapi_path: Option<String>,
    openapi_info: OpenApiInfo,
    not_found: bool,
    unsecured: Vec<UnsecuredRoute>,
    /// Mistakes found while combining routers, reported when the router is built.
    deferred: Vec<RouterError>,
    /// Where the interactive API reference is served, under the prefixes of the router
    /// that asked, and its title.
    #[cfg(feature = "api-reference")]
    api_reference: Option<(String, String)>,
}

impl<S> std::fmt::Debug for SecureRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureRouter")
            .field("security", &self.security)
            .field("prefix", &self.prefix)
            .field("endpoints", &self.endpoints.len())
            .finish_non_exhaustive()
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
            prefix: String::new(),
            endpoints: Vec::new(),
            openapi_path: None,
            openapi_info: OpenApiInfo::default(),
            not_found: false,
            unsecured: Vec::new(),
            deferred: Vec::new(),
            #[cfg(feature = "api-reference")]
            api_reference: None,
        }
    }

    /// Mounts `routes`.
    pub fn mount(mut self, routes: Routes<S>) -> Self {
        self.endpoints.extend(routes.endpoints);
        self
    }

    /// Mounts `routes` under `prefix` (like `/billing`): a handler declared at `/invoices`
    /// answers at `/billing/invoices`.
    pub fn mount_at(mut self, prefix: &str, routes: Routes<S>) -> Self {
        self.endpoints.extend(
            routes
                .endpoints
                .into_iter()
                .map(|mounted| mounted.nested(prefix)),
        );
        self
    }

    /// Puts every route of this router under `prefix` (like `/api/v1`), including the
    /// OpenAPI document and routes merged before or after. The prefix is a path of plain
    /// segments: it starts with `/`, does not end with one, and has no parameters.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix.insert_str(0, prefix);
        self
    }

    /// Adds every endpoint of `other`, with its prefix, its deliberately unsecured routes
    /// and its OpenAPI document. Both must be built with the same [`Security`] (clones of
    /// one): an app has one token cache and one throttle of failed authentication.
    pub fn merge(mut self, other: SecureRouter<S>) -> Self {
        if !self.security.same_as(&other.security) {
            self.deferred.push(RouterError::DifferentSecurity);
        }
        let SecureRouter {
            security: _,
            prefix,
            endpoints,
            openapi_path,
            openapi_info,
            not_found,
            unsecured,
            deferred,
            #[cfg(feature = "api-reference")]
            api_reference,
        } = other;
        #[cfg(feature = "api-reference")]
        if let Some((path, title)) = api_reference {
            if self.api_reference.is_some() {
                self.deferred.push(RouterError::TwoApiReferences);
            } else {
                self.api_reference = Some((format!("{prefix}{path}"), title));
            }
        }
        self.deferred.extend(deferred);
        self.endpoints.extend(endpoints.into_iter().map(|mounted| {
            if mounted.absolute {
                mounted
            } else {
                mounted.nested(&prefix)
            }
        }));
        match (&self.openapi_path, openapi_path) {
            (Some(first), Some(second)) => {
                self.deferred.push(RouterError::TwoOpenApiDocuments {
                    first: first.clone(),
                    second: format!("{prefix}{second}"),
                });
            }
            (None, Some(path)) => {
                self.openapi_path = Some(format!("{prefix}{path}"));
                self.openapi_info = openapi_info;
            }
            (_, None) => {}
        }
        self.not_found |= not_found;
        self.unsecured.extend(unsecured);
        self
    }

    /// Adds every endpoint of `other` under `prefix`: [`merge`](SecureRouter::merge) with
    /// `other` prefixed.
    pub fn nest(self, prefix: &str, other: SecureRouter<S>) -> Self {
        self.merge(other.prefix(prefix))
    }

    /// Gives the handlers their state: the result merges with routers of other states.
    pub fn with_state<S2>(self, state: S) -> SecureRouter<S2>
    where
        S2: Clone + Send + Sync + 'static,
    {
        let routes = Routes {
            endpoints: self.endpoints,
        }
        .with_state(state);
        SecureRouter {
            security: self.security,
            prefix: self.prefix,
            endpoints: routes.endpoints,
            openapi_path: self.openapi_path,
            openapi_info: self.openapi_info,
            not_found: self.not_found,
            unsecured: self.unsecured,
            deferred: self.deferred,
            #[cfg(feature = "api-reference")]
            api_reference: self.api_reference,
        }
    }

    /// Every endpoint mounted, in order, as declared (see [`mounted`](SecureRouter::mounted)
    /// for the paths they answer at).
    pub fn endpoints(&self) -> impl Iterator<Item = &'static EndpointSpec> + '_ {
        self.endpoints.iter().map(|mounted| mounted.spec)
    }

    /// Every endpoint and the path it answers at, prefixes included, with the OpenAPI
    /// document's and a development issuer's routes.
    pub fn mounted(&self) -> Result<Vec<MountedEndpoint>, RouterError> {
        Ok(self
            .plan()?
            .endpoints
            .iter()
            .map(|planned| planned.mounted)
            .collect())
    }

    /// The security configuration.
    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Serves the OpenAPI document of the mounted endpoints at `path` (GET, public, rate
    /// limited per IP at the default rate), like `"/openapi.json"`, under the router's
    /// prefix.
    pub fn with_openapi(mut self, path: &str) -> Self {
        self.openapi_path = Some(path.to_owned());
        self
    }

    /// The title, version and description of the OpenAPI document.
    pub fn openapi_info(mut self, info: OpenApiInfo) -> Self {
        self.openapi_info = info;
        self
    }

    /// Serves an interactive reference of the API at `path` (like `"/docs"`, under the
    /// router's prefix; feature `api-reference`): Swagger UI showing the OpenAPI document
    /// (which [`with_openapi`](SecureRouter::with_openapi) must serve), with try-it-out and
    /// an Authorize dialog for the OAuth 2.0 client-credentials flow. Its files come from
    /// the application; the page is sent with a strict Content-Security-Policy whose
    /// `connect-src` allows the page's origin and each issuer's. Public, rate limited per
    /// IP, listed in the inventory and known to the [`Guard`].
    #[cfg(feature = "api-reference")]
    pub fn with_api_reference(mut self, path: &str, title: &str) -> Self {
        self.api_reference = Some((path.to_owned(), title.to_owned()));
        self
    }

    /// Answers requests no route matches with Portcullis' 404 problem body (rendered by
    /// the configured error renderer). Without it the router has no fallback, so it merges
    /// into an app that has its own. [`into_service`](SecureRouter::into_service) needs
    /// none: behind the guard, such requests get the guard's 404, audited.
    pub fn with_not_found(mut self) -> Self {
        self.not_found = true;
        self
    }

    /// Declares a route of the app that is deliberately unsecured: the [`Guard`] lets it
    /// through, and the inventory lists it as `UNSECURED` so that it shows in review.
    ///
    /// ```
    /// use portcullis_runtime::UnsecuredRoute;
    /// # fn example(router: portcullis_runtime::SecureRouter) -> portcullis_runtime::SecureRouter {
    /// router
    ///     .allow_unsecured(UnsecuredRoute::get("/"))
    ///     .allow_unsecured(UnsecuredRoute::get_prefix("/assets"))
    /// # }
    /// ```
    pub fn allow_unsecured(mut self, route: UnsecuredRoute) -> Self {
        self.unsecured.push(route);
        self
    }

    /// The security inventory: method, path, access, rate and key of every endpoint, and
    /// the deliberately unsecured routes, sorted, to print at start-up or keep as a
    /// snapshot.
    ///
    /// # Panics
    ///
    /// When the endpoints cannot be served together (see [`RouterError`]); at start-up.
    pub fn inventory(&self) -> crate::Inventory {
        match self.try_inventory() {
            Ok(inventory) => inventory,
            Err(error) => panic!("portcullis: {error}"),
        }
    }

    /// The security inventory, or why the endpoints cannot be served together.
    pub fn try_inventory(&self) -> Result<crate::Inventory, RouterError> {
        let plan = self.plan()?;
        let endpoints: Vec<MountedEndpoint> = plan
            .endpoints
            .iter()
            .map(|planned| planned.mounted)
            .collect();
        Ok(crate::Inventory::new(
            &endpoints,
            &self.unsecured,
            &self.security,
        ))
    }

    /// The OpenAPI 3.1 document of the mounted endpoints.
    pub fn openapi(&self) -> Result<utoipa::openapi::OpenApi, RouterError> {
        let plan = self.plan()?;
        Ok(plan.document(&self.security, &self.openapi_info)?)
    }

    /// The guard of an app that holds the endpoints already (merged with
    /// [`into_router`](SecureRouter::into_router)): it knows every route mounted here and
    /// the deliberately unsecured ones, and refuses every other request with 404 (audited
    /// as `unlisted_route`). Wrap the whole app with it: see [`Guard`].
    /// [`into_service_with`](SecureRouter::into_service_with) does the same for an app's
    /// own routes, and lets the endpoints through unchecked.
    ///
    /// # Panics
    ///
    /// When the endpoints cannot be served together (see [`RouterError`]); at start-up.
    pub fn guard(&self) -> Guard {
        match self.try_guard() {
            Ok(guard) => guard,
            Err(error) => panic!("portcullis: {error}"),
        }
    }

    /// The [`guard`](SecureRouter::guard), or why the endpoints cannot be served together.
    pub fn try_guard(&self) -> Result<Guard, RouterError> {
        let plan = self.plan()?;
        let routes = plan
            .endpoints
            .iter()
            .map(|planned| (planned.mounted.spec.method, planned.mounted.path));
        Guard::new(
            self.security.clone(),
            routes,
            self.unsecured.iter().cloned(),
        )
    }

    /// Builds the `axum::Router`, or says why the endpoints cannot be served together.
    pub fn try_into_router(self) -> Result<Router<S>, RouterError> {
        self.build(None)
    }

    /// The `axum::Router` of the endpoints. Behind `guard` (served by
    /// [`into_service_with`](SecureRouter::into_service_with)), a method no endpoint of a
    /// path answers is the guard's to refuse, and requests to no route are the app's
    /// fallback's.
    fn build(self, guard: Option<&Guard>) -> Result<Router<S>, RouterError> {
        let plan = self.plan()?;
        let reference = self.api_reference_routes()?;
        let document = match plan.openapi {
            Some(_) => Some(Arc::new(Document {
                plan_endpoints: plan.document_endpoints(),
                registry: plan.registry,
                security: self.security.clone(),
                info: self.openapi_info.clone(),
                complete: OnceLock::new(),
            })),
            None => None,
        };
        let mut paths: Vec<(&'static str, MethodRouter<S>)> = Vec::new();
        let mut contexts = Vec::with_capacity(plan.endpoints.len());
        let mut add =
            |planned: &Planned, route: Box<dyn FnOnce(Arc<EndpointContext>) -> MethodRouter<S>>| {
                let context = Arc::new(EndpointContext::new(
                    self.security.clone(),
                    planned.mounted,
                    plan.registry,
                    planned.requirements,
                ));
                contexts.push(Arc::downgrade(&context));
                let method_router = route(context);
                let path = planned.mounted.path;
                match paths.iter_mut().find(|(known, _)| *known == path) {
                    Some((_, existing)) => {
                        *existing = std::mem::take(existing).merge(method_router)
                    }
                    None => paths.push((path, method_router)),
                }
            };
        let mut planned = plan.endpoints.iter();
        for (mounted, planned) in self.endpoints.into_iter().zip(&mut planned) {
            add(planned, mounted.route);
        }
        for (route, planned) in reference.into_iter().zip(&mut planned) {
            let Mounted { route, .. } = Mounted::new(planned.mounted.spec, route);
            add(planned, route);
        }
        if let (Some(document), Some(planned)) = (document, planned.next()) {
            let serve = move || {
                let json = document.json();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], json) }
            };
            let Mounted { route, .. } = Mounted::new(planned.mounted.spec, serve);
            add(planned, route);
        }
        spawn_eviction(contexts);
        let router = paths
            .into_iter()
            .fold(Router::new(), |router, (path, method_router)| {
                let method_router = match guard {
                    Some(guard) => method_router.fallback_service(guard.other_methods()),
                    None => method_router,
                };
                router.route(path, method_router)
            });
        Ok(if self.not_found && guard.is_none() {
            let security = self.security.clone();
            router.fallback(move || {
                let security = security.clone();
                async move { crate::guard::not_found(&security) }
            })
        } else {
            router
        })
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

    /// Where every endpoint answers, checked.
    fn plan(&self) -> Result<Plan, RouterError> {
        if let Some(error) = self.deferred.first() {
            return Err(error.clone());
        }
        let openapi = self
            .openapi_path
            .as_deref()
            .map(|path| openapi_endpoint(str_for_life(path)));
        let reference = self.api_reference_specs()?;
        Plan::new(
            &self.security,
            &self.prefix,
            self.endpoints
                .iter()
                .map(|mounted| (mounted.spec, mounted.prefix.as_str(), mounted.absolute))
                .chain(reference.iter().map(|spec| (*spec, "", false))),
            openapi,
        )
    }

    /// The records of the API reference's routes, if it is served.
    #[cfg(feature = "api-reference")]
    fn api_reference_specs(&self) -> Result<Vec<&'static EndpointSpec>, RouterError> {
        let Some((path, _)) = &self.api_reference else {
            return Ok(Vec::new());
        };
        if self.openapi_path.is_none() {
            return Err(RouterError::ApiReferenceWithoutDocument);
        }
        Ok(crate::openapi::ApiReference::paths(path)
            .into_iter()
            .map(|path| builtin_endpoint("api_reference", HttpMethod::Get, str_for_life(&path)))
            .collect())
    }

    #[cfg(not(feature = "api-reference"))]
    fn api_reference_specs(&self) -> Result<Vec<&'static EndpointSpec>, RouterError> {
        Ok(Vec::new())
    }

    /// The API reference's routes, in the order of [`api_reference_specs`].
    #[cfg(feature = "api-reference")]
    fn api_reference_routes(&self) -> Result<Vec<MethodRouter<S>>, RouterError> {
        let Some((path, title)) = &self.api_reference else {
            return Ok(Vec::new());
        };
        let document = format!(
            "{}{}",
            self.prefix,
            self.openapi_path.as_deref().unwrap_or("")
        );
        let reference = crate::openapi::ApiReference::new(document)
            .title(title.clone())
            .token_endpoints(self.security.token_endpoints());
        let routes = reference
            .routes(&format!("{}{path}", self.prefix))
            .map_err(|error| RouterError::ApiReference(error.to_string()))?;
        Ok(routes.into_iter().map(|(_, route)| route).collect())
    }

    #[cfg(not(feature = "api-reference"))]
    fn api_reference_routes(&self) -> Result<Vec<MethodRouter<S>>, RouterError> {
        Ok(Vec::new())
    }
}

impl SecureRouter {
    /// The service to serve: the endpoints behind the [`Guard`], which refuses every
    /// other request with 404 (405 with `Allow` for a listed path and another method),
    /// audited, and adds `nosniff` to every response. Give the endpoints their state first
    /// ([`with_state`](SecureRouter::with_state)).
    ///
    /// ```
    /// # use portcullis_runtime::SecureRouter;
    /// # async fn example(api: SecureRouter) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// portcullis_runtime::transport::serve(listener, api.into_service()).await
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the endpoints cannot be served together (see [`RouterError`]); at start-up.
    pub fn into_service(self) -> crate::Guarded<Router> {
        self.into_service_with(Router::new())
    }

    /// The service to serve: the endpoints, and `app`'s own routes behind the [`Guard`].
    /// A route of `app` answers only if it is declared with
    /// [`allow_unsecured`](SecureRouter::allow_unsecured); the guard checks the route
    /// `app`'s router picked, so a route added by hand is refused even where one of the
    /// endpoints' templates matches its path too.
    ///
    /// ```
    /// # use portcullis_runtime::{SecureRouter, UnsecuredRoute};
    /// # fn example(api: SecureRouter) {
    /// use axum::routing::get;
    ///
    /// let app = axum::Router::new()
    ///     .route("/", get(|| async { "home" }))              // declared below: served
    ///     .route("/admin/export", get(|| async { "secret" })); // not declared: 404
    /// let service = api
    ///     .allow_unsecured(UnsecuredRoute::get("/"))
    ///     .into_service_with(app); // serve it with `portcullis::transport::serve`
    /// # let _ = service;
    /// # }
    /// ```
    ///
    /// `app` keeps its state, its fallback (behind the guard), its error format, and its
    /// layers (added with `Router::layer` before this call, they wrap its own routes; a
    /// layer for every request wraps the returned service). The endpoints are matched once,
    /// by the router, as in a plain axum app. [`Guard::wrap`] serves an app that already
    /// holds the endpoints, and checks them too.
    ///
    /// # Panics
    ///
    /// When the endpoints cannot be served together (see [`RouterError`]), or when `app`
    /// holds a route at the path and method of an endpoint, or a method fallback at an
    /// endpoint's path (as `axum::Router::merge` does); at start-up.
    pub fn into_service_with(self, app: Router) -> crate::Guarded<Router> {
        match self.try_into_service_with(app) {
            Ok(service) => service,
            Err(error) => panic!("portcullis: {error}"),
        }
    }

    /// [`into_service_with`](SecureRouter::into_service_with), or why the endpoints cannot
    /// be served together.
    ///
    /// # Panics
    ///
    /// When `app` holds a route at the path and method of an endpoint, or a method fallback
    /// at an endpoint's path (as `axum::Router::merge` does).
    pub fn try_into_service_with(self, app: Router) -> Result<crate::Guarded<Router>, RouterError> {
        let guard = self.try_guard()?;
        let endpoints = self.build(Some(&guard))?;
        Ok(guard.wrap_beside(app, endpoints))
    }
}

#[cfg(feature = "dev")]
impl<S> SecureRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// Serves a development issuer's routes (its JWKS, discovery documents and token
    /// endpoint) at the path of its identifier (`/dev` for `http://127.0.0.1:3000/dev`),
    /// whatever the router's prefix: public, rate limited per IP, audited, listed in the
    /// inventory and known to the [`Guard`].
    pub fn with_dev_issuer(mut self, dev: &crate::dev::DevIssuer) -> Self {
        for (method, path, handler, route) in dev.routes::<S>() {
            let spec = builtin_endpoint(handler, method, str_for_life(&path));
            let mut mounted = Mounted::new(spec, route);
            mounted.absolute = true;
            self.endpoints.push(mounted);
        }
        self
    }
}

/// The OpenAPI document served by [`SecureRouter::with_openapi`]: made on request until
/// every issuer has its keys (a token endpoint found by discovery then appears in it), and
/// kept from then on.
struct Document {
    plan_endpoints: Vec<MountedEndpoint>,
    registry: Option<&'static crate::authz::ScopeRegistry>,
    security: Security,
    info: OpenApiInfo,
    complete: OnceLock<Bytes>,
}

impl Document {
    fn json(&self) -> Bytes {
        if let Some(json) = self.complete.get() {
            return json.clone();
        }
        let complete = self.security.readiness().is_ready();
        let document = crate::openapi::build(
            &self.plan_endpoints,
            &self.security,
            self.registry,
            &self.info,
        );
        // The same endpoints were checked when the router was built: this cannot fail.
        let json = match document.map(|document| serde_json::to_vec(&document)) {
            Ok(Ok(json)) => Bytes::from(json),
            _ => Bytes::from_static(b"{}"),
        };
        if complete {
            let _ = self.complete.set(json.clone());
        }
        json
    }
}

/// The record of the endpoint serving the OpenAPI document at `path`.
fn openapi_endpoint(path: &'static str) -> &'static EndpointSpec {
    builtin_endpoint("openapi", HttpMethod::Get, path)
}

/// The record of one of Portcullis' own endpoints (the OpenAPI document, a development
/// issuer's routes): public, limited per IP at the default rate. Made at start-up and kept
/// for the life of the process, like the records the attributes generate: one per
/// distinct route.
pub(crate) fn builtin_endpoint(
    handler: &'static str,
    method: HttpMethod,
    path: &'static str,
) -> &'static EndpointSpec {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, PoisonError};
    type Key = (&'static str, &'static str, &'static str);
    static SPECS: Mutex<BTreeMap<Key, &'static EndpointSpec>> = Mutex::new(BTreeMap::new());
    let mut specs = SPECS.lock().unwrap_or_else(PoisonError::into_inner);
    specs
        .entry((handler, method.as_str(), path))
        .or_insert_with(|| {
            Box::leak(Box::new(EndpointSpec {
                handler,
                module: BUILTIN_MODULE,
                method,
                path,
                path_params: &[],
                access: Access::Public,
                rate: EndpointRate::Default,
                rate_key: RateKeyKind::Ip,
                body_limit: None,
                summary: None,
                description: None,
                tags: &[],
                operation_id: Some(handler),
                success_status: None,
                errors: &[],
                document: |_| {},
            }))
        })
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
