//! Rate-limit stores under load: decisions per second and latency percentiles for the
//! in-memory limiter and the Redis store (on loopback), and the memory one tracked client
//! costs.
//!
//! Run: `cargo bench --bench rate_store` (the Redis part needs `redis-server` on the PATH;
//! it starts its own on a free port).

#[allow(dead_code)] // the bench uses the server, not its redis-cli helpers
#[path = "../tests/common/redis.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::Rate;
use portcullis::rate::{MemoryLimiter, RateIdentity, RateKey, RateRequest, RateStore};
use portcullis::redis::{Redis, WhenUnreachable};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(name: &str, count: usize, elapsed: Duration, mut latencies: Vec<Duration>) {
    latencies.sort_unstable();
    println!(
        "{name:<40} {:>12.0} decisions/s   p50 {:>9.2?}   p99 {:>9.2?}",
        count as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn memory() {
    // One key, as fast as one core goes (the hot path of a busy client).
    let limiter = MemoryLimiter::new(Rate::per_second(1_000_000_000));
    let key = RateKey::of_id("client-1");
    let count = 5_000_000;
    let start = Instant::now();
    for _ in 0..count {
        black_box(limiter.check(black_box(key)));
    }
    let elapsed = start.elapsed();
    let mut latencies = Vec::with_capacity(200_000);
    for _ in 0..200_000 {
        let at = Instant::now();
        black_box(limiter.check(black_box(key)));
        latencies.push(at.elapsed());
    }
    report("memory, one key (1 core)", count, elapsed, latencies);

    // Many keys: the map grows; what does a tracked client cost?
    let clients = 1_000_000u64;
    let limiter = MemoryLimiter::new(Rate::per_minute(100));
    let keys: Vec<RateKey> = (0..clients)
        .map(|n| RateKey::of_id(&format!("client-{n}")))
        .collect();
    let before = resident_bytes();
    let start = Instant::now();
    for key in &keys {
        black_box(limiter.check(*key));
    }
    let elapsed = start.elapsed();
    let after = resident_bytes();
    let per_key = (after.saturating_sub(before)) as f64 / clients as f64;
    println!(
        "{:<40} {:>12.0} decisions/s   {} keys tracked, {:.0} bytes/key, {:.1} MiB in all",
        "memory, 1,000,000 distinct clients",
        clients as f64 / elapsed.as_secs_f64(),
        limiter.tracked_keys(),
        per_key,
        (after.saturating_sub(before)) as f64 / (1024.0 * 1024.0),
    );
}

async fn redis_store() {
    let Some(server) = redis_server::RedisServer::start("rate_store bench") else {
        return;
    };
    let redis = Redis::connect(&server.url()).await.expect("redis");
    let store: Arc<dyn RateStore> = Arc::new(redis.rate_store(WhenUnreachable::Refuse));
    let rate = Rate::per_second(1_000_000);
    let request = RateRequest {
        quota: "bench",
        identity: RateIdentity::Id("client-1"),
        rate,
    };
    for _ in 0..1000 {
        store.check(request).await.expect("warm-up");
    }
    let count = 20_000;
    let mut latencies = Vec::with_capacity(count);
    let start = Instant::now();
    for _ in 0..count {
        let at = Instant::now();
        black_box(store.check(request).await.expect("decision"));
        latencies.push(at.elapsed());
    }
    report(
        "redis, one connection, sequential",
        count,
        start.elapsed(),
        latencies,
    );

    let tasks = 32;
    let per_task = 2_000;
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = format!("client-{task}");
                let mut latencies = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let request = RateRequest {
                        quota: "bench",
                        identity: RateIdentity::Id(&id),
                        rate,
                    };
                    let at = Instant::now();
                    black_box(store.check(request).await.expect("decision"));
                    latencies.push(at.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(tasks * per_task);
    for handle in handles {
        latencies.extend(handle.await.expect("task"));
    }
    report(
        "redis, 32 concurrent clients (pipelined)",
        tasks * per_task,
        start.elapsed(),
        latencies,
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(redis_store());
}
