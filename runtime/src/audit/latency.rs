//! The clock a request's latency is measured on: the processor's time-stamp counter
//! through `quanta` where the counter is invariant (a read costs a few nanoseconds, against
//! a few tens for the operating system's monotonic clock on a virtual machine), the
//! monotonic clock elsewhere. The in-memory rate limiter reads the same clock.
//!
//! A request's arrival is also dated by the wall clock (its audit event's time, and the
//! time its token is checked at). Each thread reads the wall clock at most once a
//! millisecond, and in between advances its last reading by this clock.

use std::cell::Cell;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

/// The process's latency clock, calibrated against the monotonic clock on first use.
static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// When a request's latency started counting.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Started(quanta::Instant);

impl Started {
    /// Now, by this clock and by the wall clock (read again when this thread's last
    /// reading is a millisecond old).
    #[inline]
    pub(crate) fn now_with_wall_time() -> (Started, SystemTime) {
        let now = CLOCK.now();
        let wall = WALL
            .try_with(|wall| {
                let advanced = wall.get().and_then(|(read_at, read)| {
                    let since = now.checked_duration_since(read_at)?;
                    (since < WALL_REREAD)
                        .then(|| read.checked_add(since))
                        .flatten()
                });
                advanced.unwrap_or_else(|| {
                    let read = SystemTime::now();
                    wall.set(Some((now, read)));
                    read
                })
            })
            // The thread is ending.
            .unwrap_or_else(|_| SystemTime::now());
        (Started(now), wall)
    }

    /// The time since; zero if the counter went backwards (a counter out of step between
    /// processors).
    #[inline]
    pub(crate) fn elapsed(self) -> Duration {
        CLOCK.now().saturating_duration_since(self.0)
    }
}

/// How long a thread's wall-clock reading is advanced by the latency clock before the wall
/// clock is read again.
const WALL_REREAD: Duration = Duration::from_millis(1);

thread_local! {
    /// This thread's last wall-clock reading, and the latency clock's time of it.
    static WALL: Cell<Option<(quanta::Instant, SystemTime)>> = const { Cell::new(None) };
}

/// Calibrates the clock now (once a process, up to 200 ms, usually a few), so that no
/// request waits for it.
pub(crate) fn calibrate() {
    LazyLock::force(&CLOCK);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_time_that_passed() {
        calibrate();
        let (started, _) = Started::now_with_wall_time();
        std::thread::sleep(Duration::from_millis(20));
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(19), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }

    #[test]
    fn the_wall_time_of_an_arrival_is_the_wall_clock_to_the_millisecond() {
        calibrate();
        for pause in [0, 1, 3] {
            let before = SystemTime::now();
            let (_, arrival) = Started::now_with_wall_time();
            let after = SystemTime::now();
            // Advanced from a reading up to a millisecond old, it stays within the error
            // of the two clocks' rates over that millisecond.
            let slack = Duration::from_micros(50);
            assert!(arrival + slack >= before, "{arrival:?} before {before:?}");
            assert!(arrival <= after + slack, "{arrival:?} after {after:?}");
            std::thread::sleep(Duration::from_millis(pause));
        }
        // Many arrivals in a row: never earlier than the one before.
        let mut last = Started::now_with_wall_time().1;
        for _ in 0..10_000 {
            let (_, arrival) = Started::now_with_wall_time();
            assert!(arrival + Duration::from_micros(50) >= last);
            last = arrival;
        }
    }
}
