//! What `#[secure]` and `#[public]` record about an endpoint, and the types that tie a
//! handler to that record.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::routing::MethodFilter;

use crate::authz::Requirements;
use crate::rate::{EndpointRate, RateKeyKind};

/// An HTTP method an endpoint can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
}

impl HttpMethod {
    /// The method in upper case.
    pub const fn as_str(&self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Head => "HEAD",
            HttpMethod::Options => "OPTIONS",
        }
    }

    /// The axum method filter.
    pub fn filter(&self) -> MethodFilter {
        match self {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Post => MethodFilter::POST,
            HttpMethod::Put => MethodFilter::PUT,
            HttpMethod::Patch => MethodFilter::PATCH,
            HttpMethod::Delete => MethodFilter::DELETE,
            HttpMethod::Head => MethodFilter::HEAD,
            HttpMethod::Options => MethodFilter::OPTIONS,
        }
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// Anyone: `#[public]`.
    Public,
    /// A caller with a valid token that meets the requirements: `#[secure]`.
    Secured(Requirements),
}

/// Everything the attribute says about one endpoint. Generated as a constant; read by the
/// router, the pipeline, the OpenAPI generator and the inventory.
#[derive(Debug)]
pub struct EndpointSpec {
    /// The handler function's name.
    pub handler: &'static str,
    /// The module the handler is defined in.
    pub module: &'static str,
    /// The method.
    pub method: HttpMethod,
    /// The route template, axum syntax (`/orders/{id}`).
    pub path: &'static str,
    /// The names of the path parameters, in order.
    pub path_params: &'static [&'static str],
    /// Who may call it.
    pub access: Access,
    /// Its rate.
    pub rate: EndpointRate,
    /// What the rate counts.
    pub rate_key: RateKeyKind,
    /// The largest request body accepted, when not the configured default.
    pub body_limit: Option<usize>,
    /// The first paragraph of the handler's doc comment.
    pub summary: Option<&'static str>,
    /// The rest of the doc comment.
    pub description: Option<&'static str>,
    /// OpenAPI tags.
    pub tags: &'static [&'static str],
    /// The OpenAPI operation id (default: the handler's name).
    pub operation_id: Option<&'static str>,
    /// The status of a successful response, when declared (`status = 201`); 200 otherwise.
    pub success_status: Option<u16>,
    /// The error statuses the handler itself returns, declared with `errors(404 = "...")`.
    pub errors: &'static [(u16, &'static str)],
    /// Describes the endpoint's inputs and response in its OpenAPI operation.
    pub document: fn(&mut crate::openapi::OperationDoc<'_>),
}

impl EndpointSpec {
    /// Whether the endpoint needs no authentication.
    pub fn is_public(&self) -> bool {
        matches!(self.access, Access::Public)
    }

    /// The requirements of a secured endpoint.
    pub fn requirements(&self) -> Option<&Requirements> {
        match &self.access {
            Access::Public => None,
            Access::Secured(requirements) => Some(requirements),
        }
    }
}

/// An endpoint as a router serves it: its record and the path it answers at, which is
/// its declared path under the prefixes it was mounted with.
#[derive(Debug, Clone, Copy)]
pub struct MountedEndpoint {
    /// What the attribute says about it.
    pub spec: &'static EndpointSpec,
    /// The path it answers at, such as `/api/v1/orders/{id}` for `/orders/{id}` under
    /// `/api/v1`.
    pub path: &'static str,
    /// The prefix it is mounted under (`""` for none), such as `/api/v1`.
    pub prefix: &'static str,
}

/// Implemented by the hidden type `#[secure]`/`#[public]` generates for each handler.
pub trait EndpointMeta: 'static {
    /// The endpoint's record.
    const SPEC: &'static EndpointSpec;
}

pin_project_lite::pin_project! {
    /// The future an annotated handler returns: the handler's own future, tagged with the
    /// endpoint's metadata type so that `routes!` can find it. It resolves to exactly what
    /// the handler returns, so handlers stay callable in tests.
    #[must_use = "futures do nothing unless awaited"]
    pub struct EndpointFuture<F, M> {
        #[pin]
        inner: F,
        meta: PhantomData<fn() -> M>,
    }
}

impl<F, M> EndpointFuture<F, M> {
    /// Tags `inner` with the metadata type `M`.
    pub fn new(inner: F) -> Self {
        EndpointFuture {
            inner,
            meta: PhantomData,
        }
    }
}

impl<F: Future, M> Future for EndpointFuture<F, M> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// A handler annotated with `#[secure]` or `#[public]`. `routes!` accepts nothing else.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Portcullis endpoint",
    label = "this handler has neither `#[secure(...)]` nor `#[public(...)]`",
    note = "every mounted handler declares who may call it: add `#[portcullis::secure(get, path = \"/...\", scope = \"...\")]`,\n      or `#[portcullis::public(get, path = \"/...\")]` if anyone may"
)]
pub trait Endpoint<Args> {
    /// The endpoint's metadata type.
    type Meta: EndpointMeta;
}

macro_rules! impl_endpoint {
    ($($arg:ident),*) => {
        impl<Func, Fut, Meta, $($arg,)*> Endpoint<($($arg,)*)> for Func
        where
            Func: FnOnce($($arg),*) -> EndpointFuture<Fut, Meta>,
            Meta: EndpointMeta,
        {
            type Meta = Meta;
        }
    };
}

impl_endpoint!();
impl_endpoint!(T1);
impl_endpoint!(T1, T2);
impl_endpoint!(T1, T2, T3);
impl_endpoint!(T1, T2, T3, T4);
impl_endpoint!(T1, T2, T3, T4, T5);
impl_endpoint!(T1, T2, T3, T4, T5, T6);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7, T8);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13);
impl_endpoint!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14);
impl_endpoint!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15
);
impl_endpoint!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16
);
