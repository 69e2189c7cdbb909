//! Quotas in Redis across instances: leased permits never let the instances together
//! exceed one exact GCRA, and fall short of it by at most the stated bound (2 and 4
//! instances against one quota); most leased decisions make no round trip; exact
//! decisions queued at the same moment share one script call, and those of one caller are
//! one take in it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::redis::RedisServer;
use portcullis::Rate;
use portcullis::rate::{RateDecision, RateIdentity, RateRequest, RateStore};
use portcullis::redis::{MAX_LEASE, Redis, RedisRateStore, WhenUnreachable};

/// `instances` instances (each its own connection and leases), four callers each, sending
/// for `duration` against one quota; how many were allowed and how long it took.
async fn contend(
    server: &RedisServer,
    quota: &'static str,
    instances: usize,
    leased: bool,
    rate: Rate,
    duration: Duration,
) -> (u64, Duration, Vec<Arc<RedisRateStore>>) {
    let mut stores = Vec::new();
    for _ in 0..instances {
        let redis = Redis::connect(&server.url()).await.unwrap();
        stores.push(Arc::new(if leased {
            redis.leased_rate_store(WhenUnreachable::Refuse)
        } else {
            redis.rate_store(WhenUnreachable::Refuse)
        }));
    }
    let allowed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut callers = Vec::new();
    for store in &stores {
        for _ in 0..4 {
            let (store, allowed) = (store.clone(), allowed.clone());
            callers.push(tokio::spawn(async move {
                let request = RateRequest {
                    quota,
                    identity: RateIdentity::Id("one-client"),
                    rate,
                };
                while Instant::now() < deadline {
                    let decided = match store.decide_now(request) {
                        Some(decided) => decided,
                        None => store.check(request).await,
                    };
                    match decided.unwrap() {
                        RateDecision::Allowed { .. } => {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                        RateDecision::Limited { .. } => {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
            }));
        }
    }
    for caller in callers {
        caller.await.unwrap();
    }
    (allowed.load(Ordering::Relaxed), start.elapsed(), stores)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_instances_never_exceed_one_exact_gcra_and_fall_short_by_at_most_the_bound() {
    let Some(server) = RedisServer::start("leased_instances_never_exceed_one_exact_gcra") else {
        return;
    };
    let rate = Rate::per_second(200).with_burst(40);
    let interval = rate.replenish_interval().as_secs_f64();
    // A lease is at most MAX_LEASE and a quarter of the burst.
    let lease_cap = u64::from(MAX_LEASE.min(rate.burst() / 4).max(1));
    for (quota, instances, leased) in [
        ("exact-2", 2, false),
        ("leased-2", 2, true),
        ("leased-4", 4, true),
    ] {
        let duration = Duration::from_secs(2);
        let (allowed, elapsed, stores) =
            contend(&server, quota, instances, leased, rate, duration).await;
        // What one exact GCRA allows over the whole run, at most (the run's first request
        // came after `start`, its last before `elapsed`).
        let most = u64::from(rate.burst()) + (elapsed.as_secs_f64() / interval).floor() as u64;
        // What it allows under this load, at least: every caller kept asking until the
        // deadline.
        let least = u64::from(rate.burst()) + (duration.as_secs_f64() / interval).floor() as u64;
        let bound = if leased {
            // One and a half leases per instance: the next is taken when half is left.
            instances as u64 * lease_cap * 3 / 2
        } else {
            0
        };
        let held: u64 = stores.iter().map(|store| store.permits_held()).sum();
        let lapsed: u64 = stores.iter().map(|store| store.permits_lapsed()).sum();
        eprintln!(
            "{quota}: {instances} instances allowed {allowed} in {elapsed:?}; one exact GCRA: \
             {least}..={most}; bound on under-use {bound}; held at the end {held}, lapsed {lapsed}"
        );
        assert!(
            allowed <= most + 1,
            "{quota}: {allowed} allowed, more than one exact GCRA allows ({most})"
        );
        // Slack of 2: the first request's round trip, and the clocks of two processes.
        assert!(
            allowed + bound + 2 >= least,
            "{quota}: {allowed} allowed, short of {least} by more than the bound {bound}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_leased_decisions_make_no_round_trip() {
    let Some(server) = RedisServer::start("most_leased_decisions_make_no_round_trip") else {
        return;
    };
    let redis = Redis::connect(&server.url()).await.unwrap();
    let store = redis.leased_rate_store(WhenUnreachable::Refuse);
    let request = RateRequest {
        quota: "busy",
        identity: RateIdentity::Id("c"),
        rate: Rate::per_second(1_000_000).with_burst(100_000),
    };
    let (mut now, mut waited) = (0, 0);
    for _ in 0..5_000 {
        let decided = match store.decide_now(request) {
            Some(decided) => {
                now += 1;
                decided
            }
            None => {
                waited += 1;
                store.check(request).await
            }
        };
        assert!(matches!(decided, Ok(RateDecision::Allowed { .. })));
    }
    eprintln!(
        "5000 decisions: {now} decided at once, {waited} waited; {} leases taken",
        store.takes()
    );
    assert!(
        store.takes() <= 250,
        "{} leases for 5000 decisions",
        store.takes()
    );
    assert!(now >= 4_750, "{now} of 5000 decided without waiting");
    // The first request of a caller waits for one lease.
    let first = RateRequest {
        identity: RateIdentity::Id("new-client"),
        ..request
    };
    assert!(store.decide_now(first).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_decisions_queued_together_share_a_script_call() {
    let Some(server) = RedisServer::start("exact_decisions_queued_together_share_a_script_call")
    else {
        return;
    };
    let redis = Redis::connect(&server.url()).await.unwrap();
    let store = Arc::new(redis.rate_store(WhenUnreachable::Refuse));
    let rate = Rate::per_minute(10);
    // Redis holds every answer for 100 ms (under the store's 250 ms timeout), so the
    // decisions queue behind the first calls however slowly a loaded machine runs the
    // 300 tasks.
    server.cli(&["CLIENT", "PAUSE", "100", "ALL"]);
    let mut decisions = tokio::task::JoinSet::new();
    for n in 0..300 {
        let store = store.clone();
        decisions.spawn(async move {
            let name = format!("client-{n}");
            store
                .check(RateRequest {
                    quota: "batched",
                    identity: RateIdentity::Id(&name),
                    rate,
                })
                .await
        });
    }
    while let Some(decided) = decisions.join_next().await {
        assert!(matches!(
            decided.unwrap(),
            Ok(RateDecision::Allowed { remaining: 9, .. })
        ));
    }
    let calls = script_calls(&server);
    eprintln!("300 decisions queued together: {calls} script calls");
    assert!(store.takes() == 300);
    assert!(calls <= 30, "{calls} script calls for 300 decisions");
}

/// How many commands Redis ran whose `INFO commandstats` line starts with one of `names`.
fn command_calls(server: &RedisServer, names: &[&str]) -> u64 {
    let stats = server.cli(&["INFO", "commandstats"]);
    stats
        .lines()
        .filter(|line| names.iter().any(|name| line.starts_with(name)))
        .filter_map(|line| {
            line.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// How many times the rate-limit script ran.
fn script_calls(server: &RedisServer) -> u64 {
    command_calls(server, &["cmdstat_evalsha:", "cmdstat_eval:"])
}

/// Decisions of one caller queued together go to Redis as one take, and each gets what it
/// would have got alone in turn: exactly the burst allowed, each with its own count of
/// permits left, the rest refused with a wait of at most one emission interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_decisions_of_one_caller_queued_together_are_one_take() {
    let Some(server) =
        RedisServer::start("exact_decisions_of_one_caller_queued_together_are_one_take")
    else {
        return;
    };
    let redis = Redis::connect(&server.url()).await.unwrap();
    let store = Arc::new(redis.rate_store(WhenUnreachable::Refuse));
    let rate = Rate::per_minute(10);
    // Redis holds every answer for 100 ms (under the store's 250 ms timeout), so the
    // decisions are queued together behind the first calls however slowly a loaded
    // machine runs the 300 tasks.
    server.cli(&["CLIENT", "PAUSE", "100", "ALL"]);
    let mut decisions = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let store = store.clone();
        decisions.spawn(async move {
            store
                .check(RateRequest {
                    quota: "merged",
                    identity: RateIdentity::Id("one-client"),
                    rate,
                })
                .await
        });
    }
    let mut remaining = Vec::new();
    let mut refused = 0;
    while let Some(decided) = decisions.join_next().await {
        match decided.unwrap().unwrap() {
            RateDecision::Allowed {
                remaining: left, ..
            } => remaining.push(left),
            RateDecision::Limited { retry_after } => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(6));
                refused += 1;
            }
        }
    }
    remaining.sort_unstable();
    assert_eq!(remaining, (0..10).collect::<Vec<u32>>());
    assert_eq!(refused, 290);
    // The script read the caller's state at most once per call (a call Redis answered
    // `NOSCRIPT` read nothing), not once per decision.
    let calls = script_calls(&server);
    let reads = command_calls(&server, &["cmdstat_get:"]);
    eprintln!("300 decisions of one caller: {calls} script calls, {reads} state reads");
    assert!(
        reads <= calls,
        "{reads} state reads in {calls} script calls"
    );
    assert!(calls <= 30, "{calls} script calls for 300 decisions");
}
