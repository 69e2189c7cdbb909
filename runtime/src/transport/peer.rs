//! The peer's address in every request (`ConnectInfo<SocketAddr>`), in an extension map
//! made with room for what a request collects on its way through axum and Portcullis.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request};
use bytes::Bytes;
use http::Extensions;
use tower_service::Service;

use crate::auth::ClientCertificate;

/// A connection's app: each request gets the peer's address as `ConnectInfo`, as axum's
/// `into_make_service_with_connect_info` gives it, and the client's certificate when the
/// connection has one, in an extension map made with room for the entries it collects on
/// its way (axum's `OriginalUri`, `MatchedPath` and path parameters, Portcullis' request
/// context, and a few of the application's), so that filling it never rebuilds it.
#[derive(Clone)]
pub(crate) struct WithPeer<S> {
    app: S,
    peer: SocketAddr,
    certificate: Option<ClientCertificate>,
}

impl<S> WithPeer<S> {
    /// `app`, serving the connection from `peer`.
    pub(crate) fn new(app: S, peer: SocketAddr) -> WithPeer<S> {
        WithPeer {
            app,
            peer,
            certificate: None,
        }
    }

    /// The same, for a connection whose client presented `certificate`.
    #[cfg(feature = "tls")]
    pub(crate) fn with_certificate(mut self, certificate: Option<ClientCertificate>) -> Self {
        self.certificate = certificate;
        self
    }
}

impl<S, B> Service<http::Request<B>> for WithPeer<S>
where
    S: Service<Request>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.app.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> S::Future {
        let mut request = request.map(Body::new);
        let mut extensions = ROOMY.clone();
        extensions.insert(ConnectInfo(self.peer));
        if let Some(certificate) = &self.certificate {
            extensions.insert(certificate.clone());
        }
        // What the server put there (hyper's upgrade handle) stays.
        extensions.extend(std::mem::take(request.extensions_mut()));
        *request.extensions_mut() = extensions;
        self.app.call(request)
    }
}

/// Entries a request's extension map holds without growing: `ConnectInfo`, axum's three,
/// Portcullis' request context, and three more.
const ROOM: usize = 8;

/// An empty extension map with room for [`ROOM`] entries. A clone of a map keeps its
/// room, and an empty map cannot be made with room directly: entries are put in and taken
/// out again.
static ROOMY: LazyLock<Extensions> = LazyLock::new(|| {
    #[derive(Clone)]
    struct Placeholder<const N: usize>;
    let mut extensions = Extensions::new();
    extensions.insert(Placeholder::<0>);
    extensions.insert(Placeholder::<1>);
    extensions.insert(Placeholder::<2>);
    extensions.insert(Placeholder::<3>);
    extensions.insert(Placeholder::<4>);
    extensions.insert(Placeholder::<5>);
    extensions.insert(Placeholder::<6>);
    extensions.insert(Placeholder::<7>);
    debug_assert_eq!(extensions.len(), ROOM);
    extensions.clear();
    extensions
});

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::{Ready, ready};

    use super::*;

    /// Answers with what the request's extensions hold.
    #[derive(Clone)]
    struct Echo;

    impl Service<Request> for Echo {
        type Response = (Option<SocketAddr>, Option<&'static str>, usize);
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request) -> Self::Future {
            let extensions = request.extensions();
            ready(Ok((
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(peer)| *peer),
                extensions.get::<&'static str>().copied(),
                extensions.len(),
            )))
        }
    }

    fn peer() -> SocketAddr {
        SocketAddr::from(([203, 0, 113, 7], 40_000))
    }

    #[test]
    fn each_request_gets_the_peer_and_nothing_else() {
        let mut service = WithPeer::new(Echo, peer());
        for _ in 0..2 {
            let request = Request::new(axum::body::Body::empty());
            let answer = service.call(request).into_inner().unwrap();
            assert_eq!(answer, (Some(peer()), None, 1));
        }
        // The placeholders that made the room are gone from it.
        assert!(ROOMY.is_empty());
    }

    #[test]
    fn what_the_server_put_in_the_request_stays() {
        let mut service = WithPeer::new(Echo, peer());
        let mut request = Request::new(axum::body::Body::empty());
        request.extensions_mut().insert("a client certificate");
        let answer = service.call(request).into_inner().unwrap();
        assert_eq!(answer, (Some(peer()), Some("a client certificate"), 2));
    }

    #[test]
    fn a_request_holds_more_entries_than_the_room() {
        #[derive(Clone)]
        struct Entry<const N: usize>;
        let mut extensions = ROOMY.clone();
        extensions.insert(ConnectInfo(peer()));
        extensions.insert(Entry::<0>);
        extensions.insert(Entry::<1>);
        extensions.insert(Entry::<2>);
        extensions.insert(Entry::<3>);
        extensions.insert(Entry::<4>);
        extensions.insert(Entry::<5>);
        extensions.insert(Entry::<6>);
        extensions.insert(Entry::<7>);
        extensions.insert(Entry::<8>);
        assert_eq!(extensions.len(), 10);
        assert!(extensions.get::<Entry<8>>().is_some());
        assert!(extensions.get::<ConnectInfo<SocketAddr>>().is_some());
    }
}
