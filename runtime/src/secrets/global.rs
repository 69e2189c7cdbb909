//! Where serde finds the key ring of [`Sealed`](super::Sealed) fields.
//!
//! Serde passes no context to `Serialize` and `Deserialize`, so a sealed field needs its
//! key ring from somewhere else. Two places, looked up in this order:
//!
//! 1. the ring of the innermost [`with_key_ring`] call on this thread, if any: for tests,
//!    tools, and code that prefers no global;
//! 2. the process-wide ring set once by [`install_key_ring`], usually at start-up: what
//!    axum's `Json` responses and extractors use, since they serialize outside your code.
//!
//! With neither, sealing and opening fail with [`SealError::NoKeyRing`](super::SealError):
//! nothing is ever written in clear. The process-wide ring cannot be replaced once
//! installed, so no later code can swap the keys; rotating means restarting with the new
//! specification. For code that holds a ring explicitly, [`Sealed::seal_with`] and
//! [`Sealed::open_with`] need neither.
//!
//! [`Sealed::seal_with`]: super::Sealed::seal_with
//! [`Sealed::open_with`]: super::Sealed::open_with

use std::cell::RefCell;
use std::sync::OnceLock;

use super::{KeyRing, KeyRingError};

static INSTALLED: OnceLock<KeyRing> = OnceLock::new();

thread_local! {
    static SCOPED: RefCell<Vec<KeyRing>> = const { RefCell::new(Vec::new()) };
}

/// Installs the process-wide key ring of sealed fields. Once only: a second call fails
/// with [`KeyRingError::AlreadyInstalled`] and changes nothing.
pub fn install_key_ring(ring: KeyRing) -> Result<(), KeyRingError> {
    let versions: Vec<u32> = ring.versions().collect();
    let current = ring.current_version();
    INSTALLED
        .set(ring)
        .map_err(|_| KeyRingError::AlreadyInstalled)?;
    tracing::info!(
        target: "portcullis::secrets",
        current,
        ?versions,
        "field key ring installed"
    );
    Ok(())
}

/// The process-wide key ring, if one is installed.
pub fn installed_key_ring() -> Option<&'static KeyRing> {
    INSTALLED.get()
}

/// Runs `f` with `ring` as the key ring of the sealed fields serialized and deserialized
/// on this thread, ahead of the installed one. Calls nest; the previous ring is back when
/// `f` returns or panics.
///
/// The scope is the thread: keep the serialization inside `f` (not across an `.await`
/// that may resume elsewhere).
pub fn with_key_ring<R>(ring: &KeyRing, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPED.with(|scoped| scoped.borrow_mut().pop());
        }
    }
    SCOPED.with(|scoped| scoped.borrow_mut().push(ring.clone()));
    let _pop = Pop;
    f()
}

/// The ring in force on this thread: the scoped one, else the installed one. A clone (a
/// reference count), so that no borrow is held while values are encoded.
pub(crate) fn current_key_ring() -> Option<KeyRing> {
    SCOPED
        .with(|scoped| scoped.borrow().last().cloned())
        .or_else(|| INSTALLED.get().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_unwind() {
        let one = KeyRing::new(1, KeyRing::generate_key().unwrap());
        let two = KeyRing::new(2, KeyRing::generate_key().unwrap());
        let version = || current_key_ring().map(|ring| ring.current_version());
        // No test installs a process-wide ring in this binary.
        assert_eq!(version(), None);
        with_key_ring(&one, || {
            assert_eq!(version(), Some(1));
            with_key_ring(&two, || assert_eq!(version(), Some(2)));
            assert_eq!(version(), Some(1));
            let panicked = std::panic::catch_unwind(|| with_key_ring(&two, || panic!("boom")));
            assert!(panicked.is_err());
            assert_eq!(version(), Some(1));
        });
        assert_eq!(version(), None);
    }
}
