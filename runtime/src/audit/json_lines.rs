//! An audit sink writing one JSON object per line, to a file or any writer, on its own
//! thread: a request only hands the event over (never waits for the disk), and when the
//! bounded buffer is full the event is dropped and counted rather than slowing requests.
//! A lost event (dropped, or a write that failed) raises an alert: at once for the first,
//! then at most once a minute with the count since the previous one.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::Serialize;

use super::{AuditEvent, AuditSink};
use crate::alert::{ALERT_TARGET, Alert, AlertHandle, AlertKind, AuditLoss};

/// What the sink did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonLinesStats {
    /// Events written.
    pub written: u64,
    /// Events dropped because the buffer was full.
    pub dropped: u64,
    /// Events lost to write errors (a failed flush counts as one).
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    losses: LossAlerts,
}

/// At most one alert of lost events per this long.
const LOSS_ALERT_INTERVAL: Duration = Duration::from_secs(60);

/// The sink's name in its alerts.
const SINK_NAME: &str = "json-lines";

/// Alerts of lost events: the first loss at once, then at most one per
/// [`LOSS_ALERT_INTERVAL`], each with the count since the previous one.
struct LossAlerts {
    /// Where alerts go; before the sink is part of a configuration, only to `tracing`.
    alerts: OnceLock<AlertHandle>,
    /// Losses not yet in an alert.
    unreported: AtomicU64,
    /// Whether the last loss was a failed write (else a full buffer).
    last_was_write: AtomicBool,
    /// The earliest time of the next alert, in milliseconds since `start`.
    next_alert_ms: AtomicU64,
    start: Instant,
}

impl Default for LossAlerts {
    fn default() -> Self {
        LossAlerts {
            alerts: OnceLock::new(),
            unreported: AtomicU64::new(0),
            last_was_write: AtomicBool::new(false),
            next_alert_ms: AtomicU64::new(0),
            start: Instant::now(),
        }
    }
}

impl LossAlerts {
    /// Counts one lost event, and alerts if one is due.
    fn lost(&self, cause: AuditLoss) {
        self.last_was_write
            .store(cause == AuditLoss::WriteFailed, Ordering::Relaxed);
        self.unreported.fetch_add(1, Ordering::Relaxed);
        self.report_due();
    }

    /// Alerts of the losses not reported yet, unless an alert went out less than
    /// [`LOSS_ALERT_INTERVAL`] ago. Never blocks: of racing callers, one alerts.
    fn report_due(&self) {
        if self.unreported.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_alert_ms.load(Ordering::Relaxed);
        let interval = LOSS_ALERT_INTERVAL.as_millis() as u64;
        if now < next
            || self
                .next_alert_ms
                .compare_exchange(
                    next,
                    now.saturating_add(interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let count = self.unreported.swap(0, Ordering::Relaxed);
        if count == 0 {
            return;
        }
        let cause = if self.last_was_write.load(Ordering::Relaxed) {
            AuditLoss::WriteFailed
        } else {
            AuditLoss::BufferFull
        };
        let alert = Alert {
            kind: AlertKind::AuditEventsLost {
                sink: SINK_NAME,
                cause,
            },
            count: u32::try_from(count).unwrap_or(u32::MAX),
            window: LOSS_ALERT_INTERVAL,
        };
        match self.alerts.get() {
            Some(alerts) => alerts.raise(alert),
            None => tracing::warn!(target: ALERT_TARGET, alert = %alert, "{alert}"),
        }
    }
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
/// Requests never wait for it: when its buffer is full an event is dropped, counted in
/// [`stats`](JsonLinesSink::stats) and reported as an
/// [`AuditEventsLost`](crate::alert::AlertKind::AuditEventsLost) alert (the first loss at
/// once, then at most one alert a minute), as is an event whose write failed. Alerts go to
/// the configuration the sink was added to (the first built, if it was added to several),
/// and to `portcullis::alert` before that.
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
            Ok(()) => {
                counters.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                counters.losses.lost(AuditLoss::WriteFailed);
            }
        };
        write(&line);
        while let Ok(line) = receiver.try_recv() {
            write(&line);
        }
        if writer.flush().is_err() {
            // What the flush held is lost: counted once, as one failed write.
            counters.failed.fetch_add(1, Ordering::Relaxed);
            counters.losses.lost(AuditLoss::WriteFailed);
        }
        // Losses since the last alert (buffer overflows while the writer was busy) are
        // reported from here once due, even when requests stop overflowing.
        counters.losses.report_due();
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
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                self.counters.losses.lost(AuditLoss::BufferFull);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                self.counters.losses.lost(AuditLoss::WriteFailed);
            }
        }
    }

    fn attach_alerts(&self, alerts: AlertHandle) {
        let _ = self.counters.losses.alerts.set(alerts);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::SystemTime;

    use super::*;
    use crate::alert::{AlertPolicy, Alerter};
    use crate::audit::{Decision, Reason};

    fn event() -> AuditEvent<'static> {
        AuditEvent {
            time: SystemTime::now(),
            request_id: "r-1",
            handler: "get_order",
            method: "GET",
            route: "/orders/{id}",
            decision: Decision::Allow,
            reason: Reason::Authorized,
            detail: None,
            subject: Some("alice"),
            client: None,
            ip: None,
            required_scopes: &[],
            granted_scopes: &[],
            status: 200,
            latency: Duration::ZERO,
        }
    }

    /// An alert handle whose alerts land in the returned list.
    fn collecting() -> (AlertHandle, Arc<Mutex<Vec<Alert>>>) {
        let raised = Arc::new(Mutex::new(Vec::new()));
        let into = raised.clone();
        let alerter = Alerter::new(
            AlertPolicy::default(),
            vec![Arc::new(move |alert: &Alert| {
                into.lock().unwrap().push(alert.clone())
            })],
        );
        (AlertHandle::new(Arc::new(alerter)), raised)
    }

    /// A writer that fails every write.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Waits until `done` holds (the writer runs on its own thread).
    fn eventually(done: impl Fn() -> bool) {
        for _ in 0..400 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("not within 2 s");
    }

    #[test]
    fn failed_writes_alert_once_a_minute_with_their_count() {
        let sink = JsonLinesSink::writer(Broken, 100);
        let (alerts, raised) = collecting();
        sink.attach_alerts(alerts);
        sink.record(&event());
        eventually(|| sink.stats().failed == 1);
        eventually(|| raised.lock().unwrap().len() == 1);
        for _ in 0..5 {
            sink.record(&event());
        }
        eventually(|| sink.stats().failed == 6);
        let raised = raised.lock().unwrap();
        // The first loss alerted at once; the next five wait for the next minute.
        assert_eq!(raised.len(), 1, "{raised:?}");
        let alert = &raised[0];
        assert_eq!(
            alert.kind,
            AlertKind::AuditEventsLost {
                sink: "json-lines",
                cause: AuditLoss::WriteFailed
            }
        );
        assert_eq!((alert.count, alert.window), (1, LOSS_ALERT_INTERVAL));
        assert_eq!(
            alert.to_string(),
            "the json-lines audit sink lost 1 event since its previous such alert (writing failed)"
        );
    }

    #[test]
    fn the_next_alert_carries_every_loss_since_the_previous() {
        let losses = LossAlerts::default();
        let (alerts, raised) = collecting();
        let _ = losses.alerts.set(alerts);
        let counts = || -> Vec<u32> { raised.lock().unwrap().iter().map(|a| a.count).collect() };
        losses.lost(AuditLoss::BufferFull);
        for _ in 0..40 {
            losses.lost(AuditLoss::BufferFull);
        }
        losses.lost(AuditLoss::WriteFailed);
        assert_eq!(counts(), vec![1]);
        // A minute later (moved back rather than waited for), the next report carries
        // the 41 held back, and names the cause of the last.
        losses.next_alert_ms.store(0, Ordering::Relaxed);
        losses.report_due();
        assert_eq!(counts(), vec![1, 41]);
        let alert = raised.lock().unwrap()[1].clone();
        assert_eq!(
            alert.kind,
            AlertKind::AuditEventsLost {
                sink: SINK_NAME,
                cause: AuditLoss::WriteFailed,
            }
        );
        assert_eq!(
            alert.to_string(),
            "the json-lines audit sink lost 41 events since its previous such alert (writing failed)"
        );
        // Nothing new: nothing to report.
        losses.next_alert_ms.store(0, Ordering::Relaxed);
        losses.report_due();
        assert_eq!(counts(), vec![1, 41]);
    }
}
