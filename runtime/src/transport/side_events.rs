//! A connection's rare events (the server shutting down, the watchdog's next look) polled
//! only when they have something to say.
//!
//! A connection's task wakes for the reads and writes of every request. Polling its rare
//! events at each of those wake-ups would cost every request a poll of each: a timer's
//! waker registration, a lock in the shutdown signal, atomic operations all. They are
//! polled with a waker of their own instead ([`SideEvents`]), which marks them due and
//! wakes the task; the task polls them only when they are due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Wake, Waker};

/// The waker of a connection's rare events, and whether they are due.
pub(super) struct SideEvents {
    shared: Arc<Shared>,
    /// A waker for `shared`: what the rare events are polled with.
    waker: Waker,
    /// The task's waker as `shared` last got it (read without a lock).
    task: Option<Waker>,
}

/// What the rare events' waker shares with the task.
struct Shared {
    /// Woken since the events were last polled (or never polled).
    due: AtomicBool,
    /// The task to wake when they are.
    task: Mutex<Option<Waker>>,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Marked before the task wakes: the poll this wake-up causes sees it.
        self.due.store(true, Ordering::Release);
        if let Some(task) = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            task.wake_by_ref();
        }
    }
}

impl SideEvents {
    /// Events due at the first poll.
    pub(super) fn new() -> SideEvents {
        let shared = Arc::new(Shared {
            due: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        SideEvents {
            waker: Waker::from(shared.clone()),
            shared,
            task: None,
        }
    }

    /// Called at each poll of the task, with its context: when the rare events are due, the
    /// context to poll them with (and they are no longer due until their waker wakes).
    #[inline]
    pub(super) fn due(&mut self, cx: &Context<'_>) -> Option<Context<'_>> {
        // A task's waker rarely changes; when it does, the events' waker must wake the new
        // one, before the events are polled.
        if !self
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            let task = cx.waker().clone();
            *self
                .shared
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.clone());
            self.task = Some(task);
        }
        // A plain load first: most polls find nothing due and write nothing. A wake-up after
        // the swap marks them due again, for the next poll.
        let due = self.shared.due.load(Ordering::Acquire)
            && self.shared.due.swap(false, Ordering::AcqRel);
        due.then(|| Context::from_waker(&self.waker))
    }

    /// Marks the events due, so that the next poll polls them all: after one of them ended
    /// a poll early, before the others were polled.
    pub(super) fn poll_all_next_time(&self) {
        self.shared.due.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A task waker that counts its wake-ups.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn events_are_due_at_first_then_only_once_their_waker_woke() {
        let task = Arc::new(Counting::default());
        let task_waker = Waker::from(task.clone());
        let cx = Context::from_waker(&task_waker);
        let mut side = SideEvents::new();
        let event_waker = side
            .due(&cx)
            .expect("due at the first poll")
            .waker()
            .clone();
        assert!(side.due(&cx).is_none(), "not due again until woken");
        event_waker.wake_by_ref();
        assert_eq!(task.0.load(Ordering::SeqCst), 1, "the task is woken");
        assert!(side.due(&cx).is_some(), "due after their waker woke");
        assert!(side.due(&cx).is_none());
        side.poll_all_next_time();
        assert!(side.due(&cx).is_some());
    }

    #[test]
    fn the_events_wake_the_task_that_polled_last() {
        let first = Arc::new(Counting::default());
        let second = Arc::new(Counting::default());
        let mut side = SideEvents::new();
        let first_waker = Waker::from(first.clone());
        let event_waker = side
            .due(&Context::from_waker(&first_waker))
            .expect("due at the first poll")
            .waker()
            .clone();
        let second_waker = Waker::from(second.clone());
        assert!(side.due(&Context::from_waker(&second_waker)).is_none());
        event_waker.wake();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
    }
}
