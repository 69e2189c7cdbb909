//! An open-loop load client: requests are sent on a fixed schedule, whatever the server's
//! pace, and each latency is measured from the moment its request was *scheduled*, so a
//! server that stalls is charged for every request it delayed (no coordinated omission).
//!
//! wrk measures a closed loop: each connection sends its next request when the previous one
//! is answered, so at saturation latency is connections ÷ throughput and a p99 ratio only
//! repeats the throughput ratio. At a fixed offered rate below both servers' capacity, the
//! latencies say what a request actually waits for on each.
//!
//! Requests are plain HTTP/1.1 on keep-alive connections (`GET <path>` with one bearer token
//! of a file, in turn). One thread, meant to be pinned to a core of its own: waiting for a
//! send time spins (yielding), because tokio's timer ticks in milliseconds.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error>;

/// What to send, how fast, for how long.
pub struct Schedule {
    /// The server.
    pub address: SocketAddr,
    /// The request path.
    pub path: String,
    /// Bearer tokens, taken in turn (one repeated token: a file of one line).
    pub tokens: Vec<String>,
    /// Requests per second offered, over all connections.
    pub rate: u64,
    /// Keep-alive connections; each has at most one request in flight.
    pub connections: usize,
    /// How long to send.
    pub duration: Duration,
}

/// What one run measured.
pub struct Outcome {
    /// Requests answered.
    pub answered: usize,
    /// Answers other than 200.
    pub status_errors: usize,
    /// Connections lost.
    pub socket_errors: usize,
    /// Whether the tokens ran out and started over.
    pub wrapped: bool,
    /// Every answered request's latency from its scheduled send time, sorted.
    pub latencies: Vec<Duration>,
    /// Wall-clock time from the first scheduled send to the last answer.
    pub elapsed: Duration,
}

impl Outcome {
    /// The `q`-quantile (0..=1) of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[index.min(self.latencies.len() - 1)]
    }

    /// One line for `benches/load.sh`, in the format of the wrk scripts' `RESULT` line.
    pub fn result_line(&self) -> String {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        format!(
            "RESULT requests={} rps={:.0} p50_us={:.0} p90_us={:.0} p99_us={:.0} p999_us={:.0} status_errors={} socket_errors={} wrapped={}",
            self.answered,
            self.answered as f64 / self.elapsed.as_secs_f64().max(1e-9),
            us(self.quantile(0.50)),
            us(self.quantile(0.90)),
            us(self.quantile(0.99)),
            us(self.quantile(0.999)),
            self.status_errors,
            self.socket_errors,
            self.wrapped,
        )
    }
}

/// Runs `schedule` on the current (single-threaded) runtime.
pub async fn run(schedule: Schedule) -> Result<Outcome, Error> {
    if schedule.tokens.is_empty() || schedule.rate == 0 || schedule.connections == 0 {
        return Err("open loop: no tokens, no rate or no connections".into());
    }
    let schedule = Arc::new(schedule);
    let next_token = Arc::new(AtomicUsize::new(0));
    // Each connection sends every `period`; connection i starts i/connections of a period
    // in, so that sends are spread evenly.
    let period = Duration::from_secs_f64(schedule.connections as f64 / schedule.rate as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + schedule.duration;
    let mut tasks = Vec::with_capacity(schedule.connections);
    for i in 0..schedule.connections {
        let stream = TcpStream::connect(schedule.address).await?;
        stream.set_nodelay(true)?;
        let first = start + period.mul_f64(i as f64 / schedule.connections as f64);
        tasks.push(tokio::spawn(connection(
            stream,
            schedule.clone(),
            next_token.clone(),
            first,
            period,
            end,
        )));
    }
    let mut outcome = Outcome {
        answered: 0,
        status_errors: 0,
        socket_errors: 0,
        wrapped: false,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let one = task.await?;
        outcome.answered += one.latencies.len();
        outcome.status_errors += one.status_errors;
        outcome.socket_errors += usize::from(one.lost);
        outcome.latencies.extend(one.latencies);
    }
    outcome.elapsed = start.elapsed();
    outcome.wrapped =
        next_token.load(Ordering::Relaxed) > schedule.tokens.len() && schedule.tokens.len() > 1;
    outcome.latencies.sort_unstable();
    Ok(outcome)
}

/// What one connection measured.
struct ConnectionOutcome {
    latencies: Vec<Duration>,
    status_errors: usize,
    lost: bool,
}

async fn connection(
    mut stream: TcpStream,
    schedule: Arc<Schedule>,
    next_token: Arc<AtomicUsize>,
    first: Instant,
    period: Duration,
    end: Instant,
) -> ConnectionOutcome {
    let mut outcome = ConnectionOutcome {
        latencies: Vec::with_capacity(
            (schedule.duration.as_secs_f64() / period.as_secs_f64()) as usize + 1,
        ),
        status_errors: 0,
        lost: false,
    };
    let mut buffer = Vec::with_capacity(4096);
    // Everything before the token, written once.
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer ",
        schedule.path, schedule.address
    );
    let mut request = Vec::with_capacity(2048);
    let mut scheduled = first;
    while scheduled < end {
        while Instant::now() < scheduled {
            tokio::task::yield_now().await;
        }
        let token =
            &schedule.tokens[next_token.fetch_add(1, Ordering::Relaxed) % schedule.tokens.len()];
        request.clear();
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(token.as_bytes());
        request.extend_from_slice(b"\r\n\r\n");
        let answered = match stream.write_all(&request).await {
            Ok(()) => read_response(&mut stream, &mut buffer).await,
            Err(error) => Err(error.into()),
        };
        match answered {
            Ok(status) => {
                outcome.latencies.push(scheduled.elapsed());
                if status != 200 {
                    outcome.status_errors += 1;
                }
            }
            Err(_) => {
                outcome.lost = true;
                break;
            }
        }
        // A late answer does not shift the schedule: the next request is due when it was
        // always due, and is charged from then.
        scheduled += period;
    }
    outcome
}

/// Reads one response (status line, headers, a `Content-Length` body) and returns its
/// status; bytes after it stay in `buffer`.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<u16, Error> {
    loop {
        if let Some(head_end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..head_end])?;
            let status: u16 = head
                .get(9..12)
                .and_then(|code| code.parse().ok())
                .ok_or("open loop: no status")?;
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .ok_or("open loop: no Content-Length")?;
            let total = head_end + 4 + length;
            while buffer.len() < total {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..total);
            return Ok(status);
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), Error> {
    let mut chunk = [0u8; 4096];
    let read = stream.read(&mut chunk).await?;
    if read == 0 {
        return Err("open loop: connection closed".into());
    }
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
