//! `routes![...]`: annotated handlers collected for mounting, each with the route it will
//! answer at once its endpoint's security is built.

use std::sync::Arc;

use axum::handler::Handler;
use axum::routing::MethodRouter;

use crate::context::EndpointContext;
use crate::endpoint::{Endpoint, EndpointMeta, EndpointSpec};
use crate::pipeline::Secured;

/// A set of annotated handlers, built by `routes![...]`.
///
/// Routes carry their state type `S` until [`with_state`](Routes::with_state) gives them
/// their state; then routes of modules with different states mount on one
/// [`SecureRouter`](crate::SecureRouter).
///
/// ```
/// use portcullis_runtime::Routes;
///
/// #[derive(Clone)]
/// struct Billing;
///
/// let billing: Routes<Billing> = Routes::new(); // routes![invoices, pay] in an app
/// let mountable: Routes = billing.with_state(Billing);
/// # let _ = mountable;
/// ```
pub struct Routes<S = ()> {
    pub(super) endpoints: Vec<Mounted<S>>,
}

/// A handler that axum can serve with the state `S` (an axum `Handler`): each argument an
/// extractor of `S`, a body extractor only last, a `Send` future, a response as output.
/// `#[secure]` and `#[public]` check the handler for each of these where it is defined;
/// this says, where it is mounted, to look there.
#[diagnostic::on_unimplemented(
    message = "this handler cannot be mounted: the error on its definition says why",
    label = "cannot be mounted",
    note = "if its definition shows no error, an argument is no extractor with the routes' \
            state: a `Claims<T>` whose `T` is not `Deserialize`, an extractor of another state, \
            an extractor of your own whose bounds do not hold"
)]
pub trait Mountable<T, S>: Handler<T, S> {}

impl<H: Handler<T, S>, T, S> Mountable<T, S> for H {}

/// One handler to mount: its record, the prefix it was nested under, and how to make its
/// route once its context exists.
pub(super) struct Mounted<S> {
    pub(super) spec: &'static EndpointSpec,
    /// Prefixes the handler was nested under (`SecureRouter::nest`), outermost first,
    /// without the router's own prefix.
    pub(super) prefix: String,
    /// Whether the path is absolute: not under the router's prefix (the routes of a
    /// development issuer, which answer where the issuer's identifier says).
    pub(super) absolute: bool,
    pub(super) route: RouteMaker<S>,
}

pub(super) type RouteMaker<S> =
    Box<dyn FnOnce(Arc<EndpointContext>) -> MethodRouter<S> + Send + Sync>;

impl<S> Mounted<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// A handler behind its endpoint's pipeline.
    pub(super) fn new<H, T>(spec: &'static EndpointSpec, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let route =
            move |context| axum::routing::on(spec.method.filter(), Secured::new(handler, context));
        Mounted {
            spec,
            prefix: String::new(),
            absolute: false,
            route: Box::new(route),
        }
    }

    /// The same handler with its state given.
    fn with_state<S2>(self, state: S) -> Mounted<S2>
    where
        S2: Clone + Send + Sync + 'static,
    {
        let Mounted {
            spec,
            prefix,
            absolute,
            route,
        } = self;
        Mounted {
            spec,
            prefix,
            absolute,
            route: Box::new(move |context| route(context).with_state(state)),
        }
    }

    /// The same handler, nested under `prefix`.
    pub(super) fn nested(mut self, prefix: &str) -> Self {
        self.prefix.insert_str(0, prefix);
        self
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
        H: Endpoint<A> + Mountable<T, S>,
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

    /// Gives the handlers their state, so that they mount beside routes of other states.
    pub fn with_state<S2>(self, state: S) -> Routes<S2>
    where
        S2: Clone + Send + Sync + 'static,
    {
        Routes {
            endpoints: self
                .endpoints
                .into_iter()
                .map(|mounted| mounted.with_state(state.clone()))
                .collect(),
        }
    }

    /// The endpoints, in the order they were added.
    pub fn specs(&self) -> impl Iterator<Item = &'static EndpointSpec> + '_ {
        self.endpoints.iter().map(|mounted| mounted.spec)
    }
}
