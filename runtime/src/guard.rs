//! Deny by default for the whole app: the [`Guard`] wraps the finished app, knows every
//! route mounted through Portcullis and the routes the app declares deliberately unsecured,
//! and refuses every request the app's router would hand to any other route.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::HttpBody;
use axum::extract::Request;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::response::Response;
use futures_util::future::Either;
use http::{HeaderValue, Method, StatusCode, header};

use crate::audit::{AuditEvent, Decision, REQUEST_ID, Reason, RequestId};
use crate::endpoint::HttpMethod;
use crate::metrics::EndpointMetrics;
use crate::problem::Problem;
use crate::rejection::close_when_body_unread;
use crate::router::RouterError;
use crate::security::Security;
use crate::transport::{Hsts, SecurityHeadersFuture};

/// The route name audit events and metrics give requests the guard refuses.
pub const UNLISTED_ROUTE: &str = "(unlisted)";

/// A route of the app that is deliberately unsecured: no token, no rate limit, no audit
/// by Portcullis. Declare it with
/// [`SecureRouter::allow_unsecured`](crate::SecureRouter::allow_unsecured); the
/// [`Guard`] lets it through and the inventory lists it as `UNSECURED`.
///
/// A `GET` route also admits `HEAD`, as axum serves `HEAD` with the `GET` handler.
///
/// ```
/// use http::Method;
/// use portcullis_runtime::UnsecuredRoute;
///
/// let home = UnsecuredRoute::get("/");
/// let webhook = UnsecuredRoute::new(Method::POST, "/webhooks/payments");
/// let assets = UnsecuredRoute::get_prefix("/assets"); // /assets and everything under it
/// assert_eq!(assets.to_string(), "GET /assets/**");
/// # let _ = (home, webhook);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredRoute {
    method: Method,
    path: String,
    prefix: bool,
}

impl UnsecuredRoute {
    /// `method` on `path`: an exact path, or a template with `{parameters}` in axum's
    /// syntax (`/files/{name}`).
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        UnsecuredRoute {
            method,
            path: path.into(),
            prefix: false,
        }
    }

    /// `GET` (and `HEAD`) on `path`.
    pub fn get(path: impl Into<String>) -> Self {
        UnsecuredRoute::new(Method::GET, path)
    }

    /// `method` on `prefix` and every path under it (`/assets` admits `/assets` and
    /// `/assets/app.css`, not `/assetsfoo`).
    pub fn prefix(method: Method, prefix: impl Into<String>) -> Self {
        UnsecuredRoute {
            method,
            path: prefix.into().trim_end_matches('/').to_owned(),
            prefix: true,
        }
    }

    /// `GET` (and `HEAD`) on `prefix` and every path under it.
    pub fn get_prefix(prefix: impl Into<String>) -> Self {
        UnsecuredRoute::prefix(Method::GET, prefix)
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, or the prefix.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether every path under [`path`](UnsecuredRoute::path) is admitted.
    pub fn is_prefix(&self) -> bool {
        self.prefix
    }

    /// The path as the inventory shows it: a prefix ends in `/**`.
    pub fn display_path(&self) -> String {
        if self.prefix {
            format!("{}/**", self.path)
        } else {
            self.path.clone()
        }
    }

    fn admits(&self, method: &Method) -> bool {
        self.method == method || (self.method == Method::GET && method == Method::HEAD)
    }
}

impl fmt::Display for UnsecuredRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.display_path())
    }
}

/// The methods a path admits.
#[derive(Debug, Clone, Default)]
struct Methods(Vec<Method>);

impl Methods {
    fn add(&mut self, method: Method) {
        if !self.0.contains(&method) {
            self.0.push(method);
        }
    }

    #[inline]
    fn admits(&self, method: &Method) -> bool {
        self.0.contains(method) || (method == Method::HEAD && self.0.contains(&Method::GET))
    }

    /// The `Allow` field: the methods, with `HEAD` where `GET` is.
    fn allow(&self) -> HeaderValue {
        let mut names: Vec<&str> = self.0.iter().map(Method::as_str).collect();
        if names.contains(&"GET") && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
        HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static(""))
    }
}

/// What the guard does with a request.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// A listed route: the app decides.
    Pass,
    /// A CORS preflight to a listed path: the app's CORS layer answers it, if it has one;
    /// if the app refuses it instead (405), its `Allow` names these methods, the listed
    /// ones, never a method the guard refuses.
    Preflight(HeaderValue),
    /// A listed path, another method: 405.
    MethodNotAllowed(HeaderValue),
    /// No listed route: 404.
    NotFound,
}

/// Route templates are the app's own text, never a client's: a fixed-seed hash suffices.
type TemplateHasher = foldhash::fast::FixedState;

struct GuardInner {
    security: Security,
    /// Every listed route, by its template as the app's router registers it.
    templates: HashMap<Box<str>, Methods, TemplateHasher>,
    /// The deliberately unsecured routes by template with its parameters unnamed
    /// (`/files/{}`), for a declaration that names them otherwise than the route does.
    /// Portcullis' own templates are registered as listed: only the exact one is theirs.
    unnamed: HashMap<String, Methods, TemplateHasher>,
    /// The deliberately unsecured routes that are not prefixes, matched by path for the
    /// requests that no route of the app's router matched (its fallback's).
    unsecured_paths: matchit::Router<Methods>,
    prefixes: Vec<UnsecuredRoute>,
    metrics: EndpointMetrics,
}

/// Deny by default for a whole app: every request that is neither for a route mounted
/// through Portcullis (with its own authentication, rate limit and audit) nor for a route
/// the app declared deliberately unsecured is refused with 404 (405 with `Allow` for a
/// listed path and another method), audited with the reason `unlisted_route`, and rendered
/// by the configured error renderer.
///
/// A route added by hand (`.route("/admin/export", get(export))`) would otherwise be served
/// with no authentication and appear nowhere; behind the guard it answers 404 until it is
/// secured or declared with [`allow_unsecured`](crate::SecureRouter::allow_unsecured). The
/// guard checks the route the app's router picked for a request, once it picked it, and
/// never the path alone: a route added by hand at `/orders/export` is refused even though
/// an endpoint's `/orders/{id}` matches that path too (the router prefers the static
/// segment).
///
/// [`SecureRouter::into_service_with`](crate::SecureRouter::into_service_with) serves an
/// app's own routes behind the guard, beside the endpoints. An app that holds the endpoints
/// already is wrapped whole with the guard of
/// [`SecureRouter::guard`](crate::SecureRouter::guard):
///
/// ```
/// # use portcullis_runtime::{SecureRouter, UnsecuredRoute};
/// # fn example(api: SecureRouter) {
/// use axum::routing::get;
///
/// let api = api.allow_unsecured(UnsecuredRoute::get("/"));
/// let guard = api.guard();
/// let app = axum::Router::new()
///     .route("/", get(|| async { "home" }))              // declared unsecured: served
///     .route("/admin/export", get(|| async { "secret" })) // not declared: 404
///     .merge(api.into_router());
/// let service = guard.wrap(app); // serve with `portcullis::transport::serve`
/// # let _ = service;
/// # }
/// ```
///
/// Every response that leaves the guard, the app's and its own, carries
/// `X-Content-Type-Options: nosniff`, and `Strict-Transport-Security` once set with
/// [`hsts`](Guard::hsts) (over TLS); a `Strict-Transport-Security` the handler set is kept. An app served through
/// its guard needs no [`SecurityHeadersLayer`](crate::transport::SecurityHeadersLayer).
///
/// CORS preflight requests (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
/// to a listed path pass, so that a CORS layer of the app can answer them; one that no
/// CORS layer answers gets a 405 whose `Allow` names the path's listed methods only.
/// Layers that rewrite paths (trailing slashes) belong outside the guard, before the
/// router picks a route.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<GuardInner>,
    /// The `Strict-Transport-Security` value every response carries, if any.
    hsts: Option<HeaderValue>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("prefixes", &self.inner.prefixes)
            .field("hsts", &self.hsts)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard admitting `routes` (Portcullis' own) and `unsecured` (the app's).
    pub(crate) fn new(
        security: Security,
        routes: impl IntoIterator<Item = (HttpMethod, &'static str)>,
        unsecured: impl IntoIterator<Item = UnsecuredRoute>,
    ) -> Result<Guard, RouterError> {
        let mut listed: Vec<(String, Methods, bool)> = Vec::new();
        let mut add = |path: &str, method: Method, secured: bool| match listed
            .iter_mut()
            .find(|(known, _, _)| known == path)
        {
            Some((_, known, _)) => known.add(method),
            None => {
                let mut new = Methods::default();
                new.add(method);
                listed.push((path.to_owned(), new, secured));
            }
        };
        for (method, path) in routes {
            add(path, http_method(method), true);
        }
        let mut prefixes = Vec::new();
        for route in unsecured {
            if route.prefix {
                prefixes.push(route);
            } else {
                add(&route.path, route.method.clone(), false);
            }
        }
        // Every template must be one the app's router can hold beside the others.
        let mut all = matchit::Router::new();
        let mut unsecured_paths = matchit::Router::new();
        let mut templates = HashMap::with_hasher(TemplateHasher::default());
        let mut unnamed: HashMap<String, Methods, TemplateHasher> =
            HashMap::with_hasher(TemplateHasher::default());
        for (path, methods, secured) in listed {
            if let Err(error) = all.insert(path.clone(), ()) {
                return Err(RouterError::InvalidUnsecuredRoute {
                    path,
                    reason: error.to_string(),
                });
            }
            if !secured {
                // Checked above: it cannot fail here.
                let _ = unsecured_paths.insert(path.clone(), methods.clone());
                let entry = unnamed.entry(unnamed_parameters(&path)).or_default();
                for method in &methods.0 {
                    entry.add(method.clone());
                }
            }
            templates.insert(path.into_boxed_str(), methods);
        }
        Ok(Guard {
            inner: Arc::new(GuardInner {
                metrics: EndpointMetrics::new(UNLISTED_ROUTE, "*"),
                security,
                templates,
                unnamed,
                unsecured_paths,
                prefixes,
            }),
            hsts: None,
        })
    }

    /// Adds `Strict-Transport-Security` with the policy `hsts` to every response: for an
    /// app served over TLS ([`serve_tls`](crate::transport::serve_tls)). Behind a proxy
    /// that ends TLS, the proxy sets it, or the app sets it here.
    ///
    /// ```
    /// # use portcullis_runtime::SecureRouter;
    /// # fn example(api: SecureRouter) {
    /// use portcullis_runtime::transport::Hsts;
    ///
    /// let guard = api.guard().hsts(Hsts::default()); // max-age=63072000; includeSubDomains
    /// let app = guard.wrap(api.into_router());
    /// # let _ = app;
    /// # }
    /// ```
    pub fn hsts(mut self, hsts: Hsts) -> Guard {
        self.hsts = Some(hsts.header_value());
        self
    }

    /// Wraps `app`, the app's whole router (Portcullis' routes merged in, state given):
    /// the service to serve.
    ///
    /// Every route of `app` and its fallback are checked once the router has picked them:
    /// a request runs a route's handler only when that route is listed. Add routes and
    /// `Router::layer`s before: the returned service takes no more. The endpoints are
    /// checked too, which costs each of their requests a little more than
    /// [`SecureRouter::into_service_with`](crate::SecureRouter::into_service_with), where
    /// they are not.
    pub fn wrap(self, app: Router) -> Guarded<Router> {
        let checked = app.layer(RouteCheckLayer {
            guard: self.clone(),
        });
        Guarded {
            guard: self,
            app: checked,
        }
    }

    /// The service to serve: `endpoints` (Portcullis' router, built for this guard) as
    /// they are, and every route and the fallback of `app` behind the check.
    pub(crate) fn wrap_beside(self, app: Router, endpoints: Router) -> Guarded<Router> {
        let Guarded { guard, app } = self.wrap(app);
        // `merge` keeps the fallback of its argument where both have axum's default: the
        // app's, checked.
        Guarded {
            guard,
            app: endpoints.merge(app),
        }
    }

    /// What answers a method that no endpoint of a listed path answers: the check, which
    /// refuses it with 405 (a CORS preflight passes, to a 405 without a body, whose `Allow`
    /// the check sets).
    pub(crate) fn other_methods(&self) -> RouteCheck<OtherMethod> {
        RouteCheck {
            guard: self.clone(),
            route: OtherMethod,
        }
    }

    /// What to do with `request`, which the app's router handed to the route whose
    /// template is its [`MatchedPath`] (none: to the router's fallback).
    fn verdict<B>(&self, request: &Request<B>) -> Verdict {
        let matched = request.extensions().get::<MatchedPath>();
        self.judge(matched.map(MatchedPath::as_str), request)
    }

    /// What to do with `request`, handed to the route registered as `matched` (none: to
    /// the fallback).
    fn judge<B>(&self, matched: Option<&str>, request: &Request<B>) -> Verdict {
        let path = request.uri().path();
        let method = request.method();
        let listed = match matched {
            Some(template) => self.listed_template(template),
            // A fallback may serve a path the app declared unsecured, never one of
            // Portcullis' templates (the router would have picked Portcullis' route).
            None => self
                .inner
                .unsecured_paths
                .at(path)
                .ok()
                .map(|found| found.value),
        };
        if let Some(methods) = listed {
            return if methods.admits(method) {
                Verdict::Pass
            } else if is_preflight(request) {
                Verdict::Preflight(methods.allow())
            } else {
                Verdict::MethodNotAllowed(methods.allow())
            };
        }
        let under = |prefix: &str| {
            path == prefix
                || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
        };
        let mut listed = false;
        for route in self
            .inner
            .prefixes
            .iter()
            .filter(|route| under(&route.path))
        {
            if route.admits(method) {
                return Verdict::Pass;
            }
            listed = true;
        }
        if listed {
            let mut methods = Methods::default();
            for route in self
                .inner
                .prefixes
                .iter()
                .filter(|route| under(&route.path))
            {
                methods.add(route.method.clone());
            }
            return Verdict::MethodNotAllowed(methods.allow());
        }
        Verdict::NotFound
    }

    /// The methods listed for the route registered as `template`.
    #[inline]
    fn listed_template(&self, template: &str) -> Option<&Methods> {
        match self.inner.templates.get(template) {
            Some(methods) => Some(methods),
            None if template.contains('{') => self.inner.unnamed.get(&unnamed_parameters(template)),
            None => None,
        }
    }

    /// The refusal of a request to an unlisted route, audited.
    fn refuse<B>(&self, request: &Request<B>, verdict: Verdict) -> Response {
        let started = Instant::now();
        let security = &self.inner.security;
        let mut response = match verdict {
            Verdict::MethodNotAllowed(allow) => {
                let mut response = security.render_problem(
                    Problem::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method-not-allowed",
                        "Method Not Allowed",
                    )
                    .with_detail("the route does not answer this method"),
                );
                response.headers_mut().insert(header::ALLOW, allow);
                response
            }
            Verdict::NotFound | Verdict::Pass | Verdict::Preflight(_) => not_found(security),
        };
        let request_id = RequestId::from_headers(request.headers());
        let headers = response.headers_mut();
        headers.insert(REQUEST_ID, request_id.header_value());
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let ip: Option<IpAddr> = security
            .trusted_proxies()
            .client_ip(peer, request.headers());
        let reason = Reason::UnlistedRoute;
        self.inner.metrics.decision(Decision::Deny, reason);
        let event = AuditEvent {
            time: SystemTime::now(),
            request_id: request_id.as_str(),
            handler: "",
            method: method_name(request.method()),
            route: UNLISTED_ROUTE,
            decision: Decision::Deny,
            reason,
            detail: None,
            subject: None,
            client: None,
            ip,
            required_scopes: &[],
            granted_scopes: &[],
            principal: None,
            status: response.status().as_u16(),
            latency: started.elapsed(),
        };
        security.auditor().emit(&event);
        if let Some(denial) = event.denial() {
            security.alerter().observe(denial);
        }
        response
    }
}

impl tower_layer::Layer<Router> for Guard {
    type Service = Guarded<Router>;

    fn layer(&self, app: Router) -> Guarded<Router> {
        self.clone().wrap(app)
    }
}

/// `template` with its parameters unnamed: `/files/{name}/{*rest}` is `/files/{}/{*}`, so
/// that two templates matching the same paths compare equal. `{{` and `}}` are braces.
fn unnamed_parameters(template: &str) -> String {
    let mut unnamed = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(char) = chars.next() {
        match char {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                unnamed.push_str("{{");
            }
            '{' => {
                unnamed.push_str(if chars.peek() == Some(&'*') {
                    "{*}"
                } else {
                    "{}"
                });
                for inside in chars.by_ref() {
                    if inside == '}' {
                        break;
                    }
                }
            }
            other => unnamed.push(other),
        }
    }
    unnamed
}

/// Portcullis' 404 problem, rendered by `security`'s error renderer.
pub(crate) fn not_found(security: &Security) -> Response {
    security.render_problem(
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not Found").with_detail("no such route"),
    )
}

fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn http_method(method: HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
    }
}

/// The method's name for an audit event: the standard ones by name, others as `OTHER`
/// (a client chooses them, and an event names nothing a client can make up).
fn method_name(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ]
    .into_iter()
    .zip([
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ])
    .find_map(|(known, name)| (known == method).then_some(name))
    .unwrap_or("OTHER")
}

/// An app behind its [`Guard`]: the service to serve.
#[derive(Clone)]
pub struct Guarded<S> {
    guard: Guard,
    app: S,
}

impl<S: fmt::Debug> fmt::Debug for Guarded<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("guard", &self.guard)
            .field("app", &self.app)
            .finish()
    }
}

impl<S, B> tower_service::Service<Request<B>> for Guarded<S>
where
    S: tower_service::Service<Request<B>, Response = Response, Error = Infallible>,
    B: HttpBody,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, SecurityHeadersFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.app.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // `nosniff` is on every response already: the endpoints' pipeline writes it with
        // its own fields, the check with the rest. `Strict-Transport-Security`, when set,
        // is added here, once for all.
        match &self.guard.hsts {
            None => Either::Left(self.app.call(request)),
            Some(hsts) => Either::Right(SecurityHeadersFuture::new(
                self.app.call(request),
                Some(hsts.clone()),
            )),
        }
    }
}

impl<S> Guarded<S> {
    /// Adds `Strict-Transport-Security` with the policy `hsts` to every response, as
    /// [`Guard::hsts`] does.
    ///
    /// ```
    /// # use portcullis_runtime::SecureRouter;
    /// # fn example(api: SecureRouter) {
    /// use portcullis_runtime::transport::Hsts;
    ///
    /// let service = api.into_service().hsts(Hsts::default());
    /// # let _ = service;
    /// # }
    /// ```
    pub fn hsts(mut self, hsts: Hsts) -> Guarded<S> {
        self.guard = self.guard.hsts(hsts);
        self
    }
}

/// Puts the [`RouteCheck`] around every route of an app's router and its fallback.
#[derive(Clone)]
struct RouteCheckLayer {
    guard: Guard,
}

impl<S> tower_layer::Layer<S> for RouteCheckLayer {
    type Service = RouteCheck<S>;

    fn layer(&self, route: S) -> RouteCheck<S> {
        RouteCheck {
            guard: self.guard.clone(),
            route,
        }
    }
}

/// A method no endpoint of a listed path answers, once the check let it pass (a CORS
/// preflight no CORS layer answered): 405, with no body.
#[derive(Clone, Copy)]
pub(crate) struct OtherMethod;

impl tower_service::Service<Request> for OtherMethod {
    type Response = Response;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request) -> Self::Future {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        std::future::ready(Ok(response))
    }
}

/// One route of the app (or its fallback) behind the guard: the router picked it for a
/// request, which reaches it if it is listed and is refused otherwise.
#[derive(Clone)]
pub(crate) struct RouteCheck<S> {
    guard: Guard,
    route: S,
}

impl<S> tower_service::Service<Request> for RouteCheck<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = SecurityHeadersFuture<
        Either<std::future::Ready<Result<Response, Infallible>>, Passed<S::Future>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.route.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let answer = match self.guard.verdict(&request) {
            Verdict::Pass => Either::Right(Passed {
                answer: self.route.call(request),
                allow: None,
            }),
            Verdict::Preflight(allow) => Either::Right(Passed {
                answer: self.route.call(request),
                allow: Some(allow),
            }),
            refused => {
                let mut response = self.guard.refuse(&request, refused);
                close_when_body_unread(&request, &mut response);
                Either::Left(std::future::ready(Ok(response)))
            }
        };
        SecurityHeadersFuture::new(answer, self.guard.hsts.clone())
    }
}

pin_project_lite::pin_project! {
    /// The app's answer to a request the check let through; for a CORS preflight that the
    /// app refused (405, no CORS layer answered it), with `Allow` naming the listed methods
    /// of its path: axum's router would name every method it routes there, a route the
    /// guard refuses included.
    pub(crate) struct Passed<F> {
        #[pin]
        answer: F,
        allow: Option<HeaderValue>,
    }
}

impl<F> Future for Passed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.answer.poll(cx))?;
        if let Some(allow) = this.allow.take()
            && response.status() == StatusCode::METHOD_NOT_ALLOWED
        {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict on `method path`, which the app's router handed to the route registered
    /// as `matched` (none: to its fallback).
    fn verdict(guard: &Guard, method: Method, matched: Option<&str>, path: &str) -> Verdict {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap();
        guard.judge(matched, &request)
    }

    async fn guard() -> Guard {
        let security = Security::builder()
            .default_rate(crate::Rate::per_minute(60))
            .build()
            .await
            .unwrap();
        Guard::new(
            security,
            [
                (HttpMethod::Get, "/api/orders/{id}"),
                (HttpMethod::Post, "/api/orders"),
            ],
            [
                UnsecuredRoute::get("/"),
                UnsecuredRoute::get_prefix("/assets/"),
                UnsecuredRoute::new(Method::POST, "/hooks/{name}"),
            ],
        )
        .unwrap()
    }

    /// Checks each `(method, matched template, path, verdict)` of `cases`.
    fn check(guard: &Guard, cases: Vec<(Method, Option<&str>, &str, Verdict)>) {
        for (method, matched, path, expected) in cases {
            assert_eq!(
                verdict(guard, method.clone(), matched, path),
                expected,
                "{method} {path}, routed to {matched:?}"
            );
        }
    }

    #[tokio::test]
    async fn listed_routes_pass_and_others_are_refused() {
        let guard = guard().await;
        let (order, orders) = (Some("/api/orders/{id}"), Some("/api/orders"));
        let not_allowed = |allow| Verdict::MethodNotAllowed(HeaderValue::from_static(allow));
        check(
            &guard,
            vec![
                (Method::GET, order, "/api/orders/7", Verdict::Pass),
                (Method::HEAD, order, "/api/orders/7", Verdict::Pass),
                (Method::POST, orders, "/api/orders", Verdict::Pass),
                (Method::GET, Some("/"), "/", Verdict::Pass),
                (
                    Method::POST,
                    Some("/hooks/{name}"),
                    "/hooks/pay",
                    Verdict::Pass,
                ),
                // Routes added by hand, even one whose path a listed template also matches.
                (
                    Method::GET,
                    Some("/admin/export"),
                    "/admin/export",
                    Verdict::NotFound,
                ),
                (
                    Method::GET,
                    Some("/api/orders/export"),
                    "/api/orders/export",
                    Verdict::NotFound,
                ),
                (Method::GET, orders, "/api/orders", not_allowed("POST")),
                (
                    Method::DELETE,
                    order,
                    "/api/orders/7",
                    not_allowed("GET, HEAD"),
                ),
            ],
        );
    }

    #[tokio::test]
    async fn the_fallback_serves_only_what_the_app_declared_unsecured() {
        let guard = guard().await;
        check(
            &guard,
            vec![
                (Method::GET, None, "/", Verdict::Pass),
                (Method::GET, None, "/assets", Verdict::Pass),
                (Method::GET, None, "/assets/a/b.css", Verdict::Pass),
                (Method::POST, None, "/hooks/pay", Verdict::Pass),
                // Portcullis' own templates are served by their routes, never by a fallback.
                (Method::GET, None, "/api/orders/7", Verdict::NotFound),
                (Method::GET, None, "/assetsx", Verdict::NotFound),
                (
                    Method::POST,
                    None,
                    "/assets/x",
                    Verdict::MethodNotAllowed(HeaderValue::from_static("GET, HEAD")),
                ),
                // A nested service under a declared prefix (axum gives it no `MatchedPath`),
                // or a route under it: the prefix admits everything under it.
                (
                    Method::GET,
                    Some("/assets/{*rest}"),
                    "/assets/app.css",
                    Verdict::Pass,
                ),
            ],
        );
    }

    #[tokio::test]
    async fn a_declaration_may_name_the_parameters_otherwise() {
        let guard = guard().await;
        assert_eq!(
            verdict(
                &guard,
                Method::POST,
                Some("/hooks/{provider}"),
                "/hooks/pay"
            ),
            Verdict::Pass
        );
        assert_eq!(
            verdict(
                &guard,
                Method::POST,
                Some("/hooks/{*provider}"),
                "/hooks/pay"
            ),
            Verdict::NotFound
        );
        // An endpoint's template is its own, exactly: a route of the app naming the
        // parameter otherwise (possible when the endpoints are not merged in) is not it.
        assert_eq!(
            verdict(
                &guard,
                Method::GET,
                Some("/api/orders/{order}"),
                "/api/orders/7"
            ),
            Verdict::NotFound
        );
    }

    #[test]
    fn parameters_are_unnamed_and_braces_kept() {
        assert_eq!(unnamed_parameters("/files/{name}/{*rest}"), "/files/{}/{*}");
        assert_eq!(
            unnamed_parameters("/a/{{literal}}/{id}"),
            "/a/{{literal}}/{}"
        );
        assert_eq!(unnamed_parameters("/plain"), "/plain");
    }

    #[tokio::test]
    async fn preflights_of_listed_paths_pass() {
        let guard = guard().await;
        let preflight = |path: &str| {
            Request::builder()
                .method(Method::OPTIONS)
                .uri(path)
                .header(header::ORIGIN, "https://app.example")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .body(())
                .unwrap()
        };
        assert_eq!(
            guard.judge(Some("/api/orders"), &preflight("/api/orders")),
            Verdict::Preflight(HeaderValue::from_static("POST"))
        );
        assert_eq!(
            guard.judge(Some("/admin"), &preflight("/admin")),
            Verdict::NotFound
        );
    }

    #[test]
    fn only_standard_method_names_reach_events() {
        assert_eq!(method_name(&Method::DELETE), "DELETE");
        let made_up = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_name(&made_up), "OTHER");
    }
}
