//! The connection's app as hyper calls it: one instance for all the requests of a
//! connection, called in place, rather than a clone of it for each request.
//!
//! hyper calls a service through a shared reference, and a tower service needs an
//! exclusive one; hyper-util's adapter clones the service for every request. For a
//! Portcullis app that clone and its drop cost the reference counts of each layer's shared
//! state (the guard's, the router's, the connection's watch): atomic operations that every
//! request pays for nothing. hyper makes a connection's calls one at a time, from the
//! connection's task, so [`InPlace`] keeps the connection's instance in a `RefCell` and
//! calls it directly when it is ready. A service that is not ready at once (a layer that
//! applies backpressure) is cloned, and the request waits for the clone to be ready, as
//! with hyper-util's adapter.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tower_service::Service;

/// A connection's service, called in place (see the module's documentation).
pub(super) struct InPlace<S> {
    /// The instance requests are called on.
    service: RefCell<S>,
    /// What a request that cannot be called in place is served by a clone of.
    template: S,
}

impl<S: Clone> InPlace<S> {
    /// `service`, for one connection.
    pub(super) fn new(service: S) -> InPlace<S> {
        InPlace {
            service: RefCell::new(service.clone()),
            template: service,
        }
    }
}

impl<S, R> hyper::service::Service<R> for InPlace<S>
where
    S: Service<R> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InPlaceFuture<S, R>;

    fn call(&self, request: R) -> Self::Future {
        // Never borrowed already (calls do not overlap); were it, a clone serves.
        if let Ok(mut service) = self.service.try_borrow_mut() {
            // Ready now, or the clone below waits for readiness with the task's waker.
            match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Ok(())) => {
                    return InPlaceFuture::Called {
                        future: service.call(request),
                    };
                }
                Poll::Ready(Err(error)) => return InPlaceFuture::Failed { error: Some(error) },
                Poll::Pending => {}
            }
        }
        InPlaceFuture::Waiting {
            service: self.template.clone(),
            request: Some(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's answer from an [`InPlace`] service.
    #[project = InPlaceProjection]
    pub(super) enum InPlaceFuture<S, R> where S: Service<R> {
        /// Called: the service's future.
        Called { #[pin] future: S::Future },
        /// A clone of the service, not ready yet, and the request it is for.
        Waiting { service: S, request: Option<R> },
        /// The service failed before it was called.
        Failed { error: Option<S::Error> },
    }
}

impl<S: Service<R>, R> Future for InPlaceFuture<S, R> {
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let future = match self.as_mut().project() {
                InPlaceProjection::Called { future } => return future.poll(cx),
                InPlaceProjection::Failed { error } => {
                    return match error.take() {
                        Some(error) => Poll::Ready(Err(error)),
                        // Polled again after it completed: stay pending, as a completed
                        // `Ready` would not be polled again.
                        None => Poll::Pending,
                    };
                }
                InPlaceProjection::Waiting { service, request } => {
                    if let Err(error) = std::task::ready!(service.poll_ready(cx)) {
                        return Poll::Ready(Err(error));
                    }
                    match request.take() {
                        Some(request) => service.call(request),
                        None => return Poll::Pending,
                    }
                }
            };
            self.set(InPlaceFuture::Called { future });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hyper::service::Service as _;

    use super::*;

    /// Counts its clones and calls; not ready for its first `not_ready_polls` polls of
    /// readiness (each clone starts from its original's count).
    struct Probe {
        clones: Arc<AtomicUsize>,
        calls: Arc<AtomicUsize>,
        not_ready_polls: usize,
    }

    impl Probe {
        fn new(not_ready_polls: usize) -> Probe {
            Probe {
                clones: Arc::default(),
                calls: Arc::default(),
                not_ready_polls,
            }
        }
    }

    impl Clone for Probe {
        fn clone(&self) -> Probe {
            self.clones.fetch_add(1, Ordering::SeqCst);
            Probe {
                clones: self.clones.clone(),
                calls: self.calls.clone(),
                not_ready_polls: self.not_ready_polls,
            }
        }
    }

    impl Service<u32> for Probe {
        type Response = u32;
        type Error = &'static str;
        type Future = std::future::Ready<Result<u32, &'static str>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            if self.not_ready_polls == 0 {
                return Poll::Ready(Ok(()));
            }
            self.not_ready_polls -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }

        fn call(&mut self, request: u32) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(match request {
                0 => Err("zero"),
                _ => Ok(request * 2),
            })
        }
    }

    fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_ready_service_answers_every_request_in_place() {
        let service = InPlace::new(Probe::new(0));
        // The connection's instance.
        assert_eq!(count(&service.template.clones), 1);
        for request in 1..=3 {
            assert_eq!(service.call(request).await, Ok(request * 2));
        }
        assert_eq!(service.call(0).await, Err("zero"));
        assert_eq!(count(&service.template.calls), 4);
        assert_eq!(count(&service.template.clones), 1, "no clone a request");
    }

    #[tokio::test]
    async fn a_service_not_ready_at_once_serves_through_a_clone_until_it_is() {
        let service = InPlace::new(Probe::new(2));
        // Twice the instance is not ready: a clone waits for its own readiness (two polls
        // later) and answers.
        assert_eq!(service.call(5).await, Ok(10));
        assert_eq!(service.call(6).await, Ok(12));
        assert_eq!(count(&service.template.clones), 3);
        // Then the instance is ready, and answers in place.
        assert_eq!(service.call(7).await, Ok(14));
        assert_eq!(count(&service.template.clones), 3);
        assert_eq!(count(&service.template.calls), 3);
    }
}
