//! The security headers layer: `X-Content-Type-Options` always, `Strict-Transport-Security`
//! over TLS, never overwriting what the handler set.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{HeaderValue, Response, header};
use tower_layer::Layer;
use tower_service::Service;

/// A `Strict-Transport-Security` policy (RFC 6797).
///
/// The default is two years with `includeSubDomains`:
/// `max-age=63072000; includeSubDomains`.
///
/// ```
/// use std::time::Duration;
/// use portcullis_runtime::transport::Hsts;
///
/// assert_eq!(Hsts::default().to_string(), "max-age=63072000; includeSubDomains");
/// let short = Hsts::default()
///     .max_age(Duration::from_secs(300))
///     .include_subdomains(false);
/// assert_eq!(short.to_string(), "max-age=300");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    max_age: Duration,
    include_subdomains: bool,
    preload: bool,
}

impl Hsts {
    /// Two years, the value the HSTS preload list asks for.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(63_072_000);

    /// How long browsers remember to use HTTPS only (whole seconds).
    pub const fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Whether the policy covers every subdomain too.
    pub const fn include_subdomains(mut self, include: bool) -> Self {
        self.include_subdomains = include;
        self
    }

    /// Whether to add `preload`, consent to be put on browsers' built-in HSTS lists. Hard
    /// to undo: only set it on purpose.
    pub const fn preload(mut self, preload: bool) -> Self {
        self.preload = preload;
        self
    }

    /// The header value.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::try_from(self.to_string()).expect("an HSTS value is visible ASCII")
    }
}

impl Default for Hsts {
    fn default() -> Self {
        Hsts {
            max_age: Self::DEFAULT_MAX_AGE,
            include_subdomains: true,
            preload: false,
        }
    }
}

impl std::fmt::Display for Hsts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "max-age={}", self.max_age.as_secs())?;
        if self.include_subdomains {
            f.write_str("; includeSubDomains")?;
        }
        if self.preload {
            f.write_str("; preload")?;
        }
        Ok(())
    }
}

/// Adds the security headers to every response: `X-Content-Type-Options: nosniff`, and
/// `Strict-Transport-Security` when built with [`for_tls`](Self::for_tls). A header the
/// handler already set is left as it is.
///
/// An app served through its [`Guard`](crate::Guard) needs no layer: the guard adds the
/// same headers to every response that leaves it ([`Guard::hsts`](crate::Guard::hsts) for
/// HSTS). The layer is for an app served without one.
///
/// Put it around the whole app, outermost ([`wrap`](Self::wrap)), so that fallbacks and
/// rejections get the headers too, for one step a request (as `Router::layer`, it would
/// wrap each route on its own, a boxed step on every call). Tell it how the API is served:
/// browsers ignore HSTS received over plain HTTP (RFC 6797, section 8.1), and sending it
/// there would only mislead.
///
/// ```
/// use axum::{Router, routing::get};
/// use portcullis_runtime::transport::SecurityHeadersLayer;
///
/// let app: Router = Router::new().route("/health", get(|| async { "ok" }));
/// let app = SecurityHeadersLayer::for_tls().wrap(app);
/// ```
#[derive(Debug, Clone)]
pub struct SecurityHeadersLayer {
    hsts: Option<HeaderValue>,
}

impl SecurityHeadersLayer {
    /// For an API served over TLS: `nosniff` and the default [`Hsts`] policy.
    pub fn for_tls() -> Self {
        Self::for_tls_with(Hsts::default())
    }

    /// For an API served over TLS, with this HSTS policy.
    pub fn for_tls_with(hsts: Hsts) -> Self {
        SecurityHeadersLayer {
            hsts: Some(hsts.header_value()),
        }
    }

    /// For an API served over plain HTTP (behind a TLS-terminating proxy that sets HSTS, or
    /// in development): `nosniff` only.
    pub fn for_plain_http() -> Self {
        SecurityHeadersLayer { hsts: None }
    }

    /// `app` with these headers on every response it sends: the same as
    /// [`Layer::layer`], without importing the trait.
    pub fn wrap<S>(&self, app: S) -> SecurityHeaders<S> {
        self.layer(app)
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> SecurityHeaders<S> {
        SecurityHeaders {
            inner,
            hsts: self.hsts.clone(),
        }
    }
}

/// The service [`SecurityHeadersLayer`] wraps around the router.
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    hsts: Option<HeaderValue>,
}

impl<S, R, B> Service<R> for SecurityHeaders<S>
where
    S: Service<R, Response = Response<B>>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = SecurityHeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        SecurityHeadersFuture {
            inner: self.inner.call(request),
            hsts: self.hsts.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`SecurityHeaders`].
    pub struct SecurityHeadersFuture<F> {
        #[pin]
        inner: F,
        hsts: Option<HeaderValue>,
    }
}

impl<F> SecurityHeadersFuture<F> {
    /// `inner`'s response, with the security headers (`hsts` if any).
    pub(crate) fn new(inner: F, hsts: Option<HeaderValue>) -> Self {
        SecurityHeadersFuture { inner, hsts }
    }
}

impl<F, B, E> Future for SecurityHeadersFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let headers = response.headers_mut();
        headers
            .entry(header::X_CONTENT_TYPE_OPTIONS)
            .or_insert(HeaderValue::from_static("nosniff"));
        if let Some(hsts) = this.hsts.take() {
            headers
                .entry(header::STRICT_TRANSPORT_SECURITY)
                .or_insert(hsts);
        }
        Poll::Ready(Ok(response))
    }
}

impl<F> std::fmt::Debug for SecurityHeadersFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityHeadersFuture")
            .finish_non_exhaustive()
    }
}
