//! An audit sink writing one JSON object per line, to a file or any writer, on its own
//! thread: a request only appends its line to a bounded buffer (never waits for the disk),
//! the thread writes what gathered in batches, and when the buffer is full the event is
//! dropped and counted rather than slowing requests. A lost event (dropped, or in a write
//! that failed) raises an alert: at once for the first, then at most once a minute with
//! the count since the previous one.

use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::json_line::{self, Encoder};
use super::{AuditEvent, AuditSink};
use crate::alert::{ALERT_TARGET, Alert, AlertHandle, AlertKind, AuditLoss};

/// What the sink did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonLinesStats {
    /// Events written.
    pub written: u64,
    /// Events dropped because the buffer was full.
    pub dropped: u64,
    /// Events lost to write errors (every event of a batch whose write or flush failed).
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
    /// Counts `count` lost events, and alerts if one is due.
    fn lost(&self, cause: AuditLoss, count: u64) {
        self.last_was_write
            .store(cause == AuditLoss::WriteFailed, Ordering::Relaxed);
        self.unreported.fetch_add(count, Ordering::Relaxed);
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

/// Writes audit events as JSON lines.
///
/// A request only appends its line to a shared buffer; a thread of the sink's own writes
/// what gathered, many lines at a time, so the request never waits for the disk or a pipe
/// and the writes cost a system call per batch rather than per event. When `capacity`
/// events are waiting an event is dropped, counted in [`stats`](JsonLinesSink::stats) and
/// reported as an [`AuditEventsLost`](crate::alert::AlertKind::AuditEventsLost) alert (the
/// first loss at once, then at most one alert a minute), as are the events of a write that
/// failed. Alerts go to the configuration the sink was added to (the first built, if it was
/// added to several), and to `portcullis::alert` before that.
///
/// Each line is one object: `time_unix_ms`, `request_id`, `method`, `route`, `handler`,
/// `decision`, `reason`, then `detail`, `subject`, `client` and `ip` when known, then
/// `required_scopes`, `granted_scopes`, `status` and `latency_us`. Strings are escaped as
/// JSON requires, so no value read from a token can break a line or forge another.
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
    handle: Arc<Handle>,
}

/// What the clones of one sink share; when the last is dropped, the writer writes what is
/// left and stops.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The buffer between requests and the writer thread.
struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer when it waits for a first line, or at the end.
    wake: Condvar,
    /// At most this many events wait (in the buffer, or in the writer's hands).
    capacity: usize,
    counters: Counters,
}

#[derive(Default)]
struct Pending {
    /// Lines not yet taken by the writer.
    lines: Vec<u8>,
    /// How many events `lines` holds.
    events: usize,
    /// Events the writer took and has not written yet.
    writing: usize,
    /// The writer sleeps until woken: the next line must wake it.
    writer_asleep: bool,
    /// Every clone of the sink is gone.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `event`'s line for the writer, waking it if it sleeps; or why the line is
    /// lost.
    ///
    /// The line is encoded where it goes, under the lock: the buffer's next bytes are
    /// seldom in the processor's cache (the buffer fills over a batch window), and their
    /// fetches then overlap with the encoding, where a line made elsewhere and copied in
    /// would wait for them with the lock held all the same.
    fn append(&self, event: &AuditEvent<'_>, encoder: &mut Encoder) -> Option<AuditLoss> {
        let mut pending = self.lock();
        if pending.closed {
            return Some(AuditLoss::WriteFailed);
        }
        if pending.events + pending.writing >= self.capacity {
            return Some(AuditLoss::BufferFull);
        }
        json_line::encode(event, &mut pending.lines, encoder);
        pending.events += 1;
        if std::mem::take(&mut pending.writer_asleep) {
            self.wake.notify_one();
        }
        None
    }
}

thread_local! {
    /// What this thread keeps encoded from line to line (an endpoint's fields).
    static ENCODER: RefCell<Encoder> = RefCell::new(Encoder::default());
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
        Ok(JsonLinesSink::writer(file, capacity))
    }

    /// A sink writing to standard output, buffering at most `capacity` events: the usual
    /// destination in a container, where the platform collects what a service prints. Its
    /// batches are whole lines, so they never split a line that `tracing` writes there.
    pub fn stdout(capacity: usize) -> JsonLinesSink {
        JsonLinesSink::writer(std::io::stdout(), capacity)
    }

    /// A sink writing to `writer`, buffering at most `capacity` events. The writer runs on
    /// a thread of its own, receives whole lines, many at a time, and is flushed after each
    /// batch.
    pub fn writer(writer: impl Write + Send + 'static, capacity: usize) -> JsonLinesSink {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            capacity: capacity.max(1),
            counters: Counters::default(),
        });
        let thread_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("portcullis-audit".to_owned())
            .spawn(move || write_lines(&thread_shared, writer));
        if let Err(error) = spawned {
            tracing::error!(target: "portcullis::alert", %error, "the audit writer thread could not start: events are dropped");
            shared.lock().closed = true;
        }
        JsonLinesSink {
            handle: Arc::new(Handle { shared }),
        }
    }

    /// What the sink did so far.
    pub fn stats(&self) -> JsonLinesStats {
        let counters = &self.handle.shared.counters;
        JsonLinesStats {
            written: counters.written.load(Ordering::Relaxed),
            dropped: counters.dropped.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
        }
    }
}

/// The writer thread: takes what gathered, writes it in one go, flushes, lets the next
/// batch gather; sleeps while nothing comes; ends once the sink is gone and all is written.
fn write_lines(shared: &Shared, mut writer: impl Write) {
    let mut batch = Vec::new();
    loop {
        let events = {
            let mut pending = shared.lock();
            while pending.events == 0 && !pending.closed {
                pending.writer_asleep = true;
                pending = shared
                    .wake
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if pending.events == 0 {
                break;
            }
            std::mem::swap(&mut pending.lines, &mut batch);
            let events = std::mem::take(&mut pending.events);
            pending.writing = events;
            events
        };
        let written = writer.write_all(&batch).and_then(|()| writer.flush());
        let counters = &shared.counters;
        let events = events as u64;
        match written {
            Ok(()) => {
                counters.written.fetch_add(events, Ordering::Relaxed);
            }
            Err(_) => {
                counters.failed.fetch_add(events, Ordering::Relaxed);
                counters.losses.lost(AuditLoss::WriteFailed, events);
            }
        }
        batch.clear();
        shared.lock().writing = 0;
        // Losses since the last alert (a full buffer while the writer was busy) are
        // reported from here once due, even when requests stop overflowing.
        counters.losses.report_due();
        // Let lines gather before the next pass: waking the writer for every line would
        // cost each request a thread wake-up; a sleeping writer costs nothing but this
        // delay in the file.
        std::thread::sleep(BATCH_WINDOW);
    }
}

/// How long the writer lets events gather between passes under load.
const BATCH_WINDOW: Duration = Duration::from_millis(5);

impl AuditSink for JsonLinesSink {
    fn record(&self, event: &AuditEvent<'_>) {
        let shared = &*self.handle.shared;
        // With this thread's encoder, or one of its own when that one is unavailable (the
        // thread is ending, or a sink records from inside another's `record`).
        let with_thread_encoder = ENCODER
            .try_with(|encoder| {
                let mut encoder = encoder.try_borrow_mut().ok()?;
                Some(shared.append(event, &mut encoder))
            })
            .ok()
            .flatten();
        let loss =
            with_thread_encoder.unwrap_or_else(|| shared.append(event, &mut Encoder::default()));
        if let Some(cause) = loss {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            shared.counters.losses.lost(cause, 1);
        }
    }

    fn attach_alerts(&self, alerts: AlertHandle) {
        let _ = self.handle.shared.counters.losses.alerts.set(alerts);
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
            principal: None,
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

    /// A writer that keeps what it receives, and counts its writes.
    #[derive(Clone, Default)]
    struct Kept {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicU64>,
    }

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_in_batches() {
        let kept = Kept::default();
        let sink = JsonLinesSink::writer(kept.clone(), 100_000);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let sink = sink.clone();
                scope.spawn(move || {
                    for _ in 0..2_000 {
                        sink.record(&event());
                    }
                });
            }
        });
        eventually(|| sink.stats().written == 8_000);
        assert_eq!(sink.stats().dropped, 0);
        let bytes = kept.bytes.lock().unwrap().clone();
        let lines: Vec<&[u8]> = bytes.split(|byte| *byte == b'\n').collect();
        // 8,000 lines and the empty rest after the last newline.
        assert_eq!(lines.len(), 8_001);
        for line in &lines[..8_000] {
            let value: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert_eq!(value["subject"], "alice");
        }
        // Batches, not a write per line.
        let writes = kept.writes.load(Ordering::Relaxed);
        assert!(writes < 8_000 / 4, "{writes} writes for 8,000 lines");
    }

    #[test]
    fn the_writer_writes_what_is_left_once_the_sink_is_gone() {
        let kept = Kept::default();
        let sink = JsonLinesSink::writer(kept.clone(), 1_000);
        for _ in 0..300 {
            sink.record(&event());
        }
        let shared = sink.handle.shared.clone();
        drop(sink);
        eventually(|| shared.counters.written.load(Ordering::Relaxed) == 300);
        assert_eq!(
            kept.bytes
                .lock()
                .unwrap()
                .iter()
                .filter(|byte| **byte == b'\n')
                .count(),
            300
        );
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
        losses.lost(AuditLoss::BufferFull, 1);
        for _ in 0..40 {
            losses.lost(AuditLoss::BufferFull, 1);
        }
        losses.lost(AuditLoss::WriteFailed, 1);
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
