//! Decisions that queue at the same moment share one script call: a worker sends what is
//! waiting, and what arrives meanwhile goes out together in its next call. Nothing waits
//! for a batch to fill: an idle worker sends a lone decision at once. Takes of one quota
//! and caller in a batch go as one (see `merge`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};

use super::Redis;
use super::gcra::{Grant, Take, take};
use super::keys::slot;
use super::merge::merge;
use crate::rate::RateRequest;

/// The most takes one script call carries.
const MAX_BATCH: usize = 128;

/// The most script calls out at once: decisions queue up into the next call while these
/// are out.
const IN_FLIGHT: usize = 2;

type Reply = oneshot::Sender<Result<Grant, String>>;

/// Sends takes to Redis, batched.
pub(crate) struct Batcher {
    redis: Redis,
    fallback: &'static str,
    sender: OnceLock<mpsc::UnboundedSender<(Take, Reply)>>,
    takes: AtomicU64,
}

impl Batcher {
    pub(crate) fn new(redis: Redis, fallback: &'static str) -> Self {
        Batcher {
            redis,
            fallback,
            sender: OnceLock::new(),
            takes: AtomicU64::new(0),
        }
    }

    /// How many takes were asked for.
    pub(crate) fn takes(&self) -> u64 {
        self.takes.load(Ordering::Relaxed)
    }

    /// Takes `wanted` permits of `request`'s quota, as a future that borrows nothing.
    pub(crate) fn take_for(
        self: &Arc<Self>,
        request: &RateRequest<'_>,
        wanted: u32,
    ) -> impl Future<Output = Result<Grant, String>> + Send + 'static {
        self.takes.fetch_add(1, Ordering::Relaxed);
        let take = Take {
            key: self.redis.keys().rate(request.quota, request.identity),
            interval_micros: u64::try_from(request.rate.replenish_interval().as_micros())
                .unwrap_or(u64::MAX)
                .max(1),
            burst: request.rate.burst(),
            wanted,
        };
        let batcher = self.clone();
        async move { batcher.take(take).await }
    }

    pub(crate) fn redis(&self) -> &Redis {
        &self.redis
    }

    /// Takes permits, in the next script call. The worker starts with the first take (on
    /// the Tokio runtime of the caller) and stops when the batcher is dropped.
    pub(crate) async fn take(&self, wanted: Take) -> Result<Grant, String> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(work(self.redis.clone(), self.fallback, receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send((wanted, reply))
            .map_err(|_| "the Redis worker has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the Redis worker has stopped".to_owned())?
    }
}

async fn work(
    redis: Redis,
    fallback: &'static str,
    mut receiver: mpsc::UnboundedReceiver<(Take, Reply)>,
) {
    let mut out = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            Some(()) = out.next(), if !out.is_empty() => {}
            first = receiver.recv(), if out.len() < IN_FLIGHT => {
                let Some(first) = first else { break };
                let mut batch = Vec::with_capacity(MAX_BATCH);
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                out.push(dispatch(redis.clone(), fallback, batch));
            }
        }
    }
    while out.next().await.is_some() {}
}

/// Sends one batch: one call, or on a Cluster one call per hash slot, all at once.
async fn dispatch(redis: Redis, fallback: &'static str, batch: Vec<(Take, Reply)>) {
    if !redis.is_cluster() {
        return send(&redis, fallback, batch).await;
    }
    let mut slots: BTreeMap<u16, Vec<(Take, Reply)>> = BTreeMap::new();
    for job in batch {
        slots
            .entry(slot(job.0.key.as_bytes()))
            .or_default()
            .push(job);
    }
    let calls = slots.into_values().map(|jobs| send(&redis, fallback, jobs));
    futures_util::future::join_all(calls).await;
}

/// Sends one call for `jobs`, takes of one key merged into one.
async fn send(redis: &Redis, fallback: &'static str, jobs: Vec<(Take, Reply)>) {
    let merged = merge(jobs.iter().map(|(take, _)| take));
    let takes: Vec<&Take> = merged.takes.iter().collect();
    match take(redis, fallback, &takes).await {
        Ok(grants) => {
            for ((_, reply), grant) in jobs.into_iter().zip(merged.split(&grants)) {
                let _ = reply.send(Ok(grant));
            }
        }
        Err(error) => {
            for (_, reply) in jobs {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
