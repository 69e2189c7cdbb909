//! An audit sink writing one JSON object per line, to a file or any writer, on its own
//! thread: a request only hands the event over (never waits for the disk), and when the
//! bounded buffer is full the event is dropped and counted rather than slowing requests.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::{AuditEvent, AuditSink};

/// What the sink did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonLinesStats {
    /// Events written.
    pub written: u64,
    /// Events dropped because the buffer was full.
    pub dropped: u64,
    /// Events lost to write errors.
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// One event as written.
#[derive(Serialize)]
struct Line<'a> {
    time_unix_ms: u64,
    request_id: &'a str,
    method: &'a str,
    route: &'a str,
    handler: &'a str,
    decision: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    required_scopes: &'a [&'a str],
    granted_scopes: &'a [String],
    status: u16,
    latency_us: u64,
}

/// Writes audit events as JSON lines.
///
/// ```no_run
/// use portcullis_runtime::audit::JsonLinesSink;
///
/// let sink = JsonLinesSink::file("/var/log/orders/audit.jsonl", 10_000)?;
/// // Security::builder().audit_sink(sink.clone()) ...; later: sink.stats()
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct JsonLinesSink {
    sender: SyncSender<Vec<u8>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl JsonLinesSink {
    /// A sink appending to the file at `path` (created if missing), buffering at most
    /// `capacity` events.
    pub fn file(
        path: impl AsRef<std::path::Path>,
        capacity: usize,
    ) -> std::io::Result<JsonLinesSink> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(JsonLinesSink::writer(
            std::io::BufWriter::new(file),
            capacity,
        ))
    }

    /// A sink writing to `writer`, buffering at most `capacity` events. The writer runs on
    /// a thread of its own and is flushed whenever the buffer runs empty.
    pub fn writer(writer: impl Write + Send + 'static, capacity: usize) -> JsonLinesSink {
        let (sender, receiver) = mpsc::sync_channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let spawned = std::thread::Builder::new()
            .name("portcullis-audit".to_owned())
            .spawn(move || write_lines(receiver, writer, &thread_counters));
        if let Err(error) = spawned {
            tracing::error!(target: "portcullis::alert", %error, "the audit writer thread could not start: events are dropped");
        }
        JsonLinesSink { sender, counters }
    }

    /// What the sink did so far.
    pub fn stats(&self) -> JsonLinesStats {
        JsonLinesStats {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

fn write_lines(receiver: Receiver<Vec<u8>>, mut writer: impl Write, counters: &Counters) {
    while let Ok(line) = receiver.recv() {
        let mut write = |line: &[u8]| match writer.write_all(line) {
            Ok(()) => counters.written.fetch_add(1, Ordering::Relaxed),
            Err(_) => counters.failed.fetch_add(1, Ordering::Relaxed),
        };
        write(&line);
        while let Ok(line) = receiver.try_recv() {
            write(&line);
        }
        let _ = writer.flush();
        // Let events gather before the next pass: a blocked receiver costs every request a
        // thread wake-up, a sleeping one costs nothing but this delay in the file.
        std::thread::sleep(BATCH_WINDOW);
    }
    let _ = writer.flush();
}

/// How long the writer lets events gather between passes under load.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

impl AuditSink for JsonLinesSink {
    fn record(&self, event: &AuditEvent<'_>) {
        let line = Line {
            time_unix_ms: event
                .time
                .duration_since(UNIX_EPOCH)
                .map_or(0, |t| t.as_millis() as u64),
            request_id: event.request_id,
            method: event.method,
            route: event.route,
            handler: event.handler,
            decision: event.decision.as_str(),
            reason: event.reason.as_str(),
            detail: event.detail,
            subject: event.subject,
            client: event.client,
            ip: event.ip.map(|ip| ip.to_string()),
            required_scopes: event.required_scopes,
            granted_scopes: event.granted_scopes,
            status: event.status,
            latency_us: event.latency.as_micros() as u64,
        };
        let Ok(mut bytes) = serde_json::to_vec(&line) else {
            return;
        };
        bytes.push(b'\n');
        match self.sender.try_send(bytes) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
