//! A sliding-window counter in constant space: the count of the current fixed window plus
//! the previous window's, weighted by how much of it still overlaps the sliding window.

use std::time::Duration;

/// Events in the last `window`, approximately (exact when events are spread evenly).
#[derive(Debug, Clone)]
pub(crate) struct SlidingCount {
    window: Duration,
    /// The index of the current fixed window.
    current: u64,
    current_count: u32,
    previous_count: u32,
}

impl SlidingCount {
    pub(crate) fn new(window: Duration) -> Self {
        SlidingCount {
            window: window.max(Duration::from_millis(1)),
            current: 0,
            current_count: 0,
            previous_count: 0,
        }
    }

    fn roll(&mut self, at: Duration) -> f64 {
        let window = self.window.as_nanos();
        let index = (at.as_nanos() / window) as u64;
        match index.saturating_sub(self.current) {
            0 => {}
            1 => {
                self.previous_count = self.current_count;
                self.current_count = 0;
            }
            _ => {
                self.previous_count = 0;
                self.current_count = 0;
            }
        }
        self.current = index;
        // How far into the current window we are, 0..1.
        (at.as_nanos() % window) as f64 / window as f64
    }

    /// Counts one event at `at` (time since a fixed start); the count in the window.
    pub(crate) fn add(&mut self, at: Duration) -> u32 {
        let progress = self.roll(at);
        self.current_count = self.current_count.saturating_add(1);
        self.current_count + (f64::from(self.previous_count) * (1.0 - progress)) as u32
    }

    /// Whether nothing happened in the last two windows.
    pub(crate) fn is_quiet(&self, at: Duration) -> bool {
        let index = (at.as_nanos() / self.window.as_nanos()) as u64;
        index.saturating_sub(self.current) >= 2
            || (self.current_count == 0 && self.previous_count == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_the_window_and_forgets_older_events() {
        let mut count = SlidingCount::new(Duration::from_secs(60));
        let at = |secs: u64| Duration::from_secs(secs);
        for n in 1..=10 {
            assert_eq!(count.add(at(n)), n as u32);
        }
        // Half-way into the next window, half of the previous ten still count.
        assert_eq!(count.add(at(90)), 1 + 5);
        // Two windows later, everything is forgotten.
        assert_eq!(count.add(at(250)), 1);
        assert!(!count.is_quiet(at(250)));
        assert!(count.is_quiet(at(400)));
    }
}
