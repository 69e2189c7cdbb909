//! Header values made once and sent with many responses, kept for the life of the process
//! so that sending one costs no reference count.
//!
//! A `HeaderValue` made at run time owns its bytes by reference count: every clone and
//! every drop is an atomic operation on a counter that all the server's threads share.
//! One over `'static` bytes is cloned by copying a pointer. The values an endpoint sends
//! on nearly every response (its `RateLimit-Policy`, its most common `RateLimit`) are
//! made when it is mounted, so they are interned here: each distinct text is kept once,
//! for the life of the process, and mounting the same configuration again reuses it.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::HeaderValue;

/// `value` over bytes kept for the life of the process: its clones share them without a
/// reference count. A value that is not visible ASCII is returned as it is.
///
/// Only for values made when something is configured or mounted, never per request: it
/// takes a lock, and each distinct text stays in memory until the process ends.
pub(crate) fn for_life(value: HeaderValue) -> HeaderValue {
    let Ok(text) = value.to_str() else {
        return value;
    };
    let kept = str_for_life(text);
    let sensitive = value.is_sensitive();
    let mut shared =
        HeaderValue::from_maybe_shared(Bytes::from_static(kept.as_bytes())).unwrap_or(value);
    shared.set_sensitive(sensitive);
    shared
}

/// `text`, kept for the life of the process: each distinct text once.
///
/// For names made when something is mounted (the paths of endpoints under a prefix), never
/// per request: it takes a lock, and each distinct text stays in memory until the process
/// ends.
pub(crate) fn str_for_life(text: &str) -> &'static str {
    static TEXTS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut texts = TEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    match texts.get(text) {
        Some(kept) => kept,
        None => {
            let kept: &'static str = Box::leak(text.into());
            texts.insert(kept);
            kept
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_text_once() {
        let first = for_life(HeaderValue::from_static("\"p\";q=10;w=1"));
        let again = for_life(HeaderValue::from_str("\"p\";q=10;w=1").unwrap());
        assert_eq!(first, "\"p\";q=10;w=1");
        assert_eq!(first, again);
        // The same bytes, not a copy.
        assert_eq!(first.as_bytes().as_ptr(), again.as_bytes().as_ptr());
        let other = for_life(HeaderValue::from_static("\"p\";q=20;w=1"));
        assert_ne!(other.as_bytes().as_ptr(), first.as_bytes().as_ptr());
    }

    #[test]
    fn keeps_each_str_once() {
        let first = str_for_life("/api/v1/orders");
        let again = str_for_life(&String::from("/api/v1/orders"));
        assert_eq!(first.as_ptr(), again.as_ptr());
        assert_ne!(str_for_life("/api/v2/orders").as_ptr(), first.as_ptr());
    }

    #[test]
    fn keeps_sensitivity_and_leaves_opaque_bytes_alone() {
        let mut secret = HeaderValue::from_static("abc");
        secret.set_sensitive(true);
        assert!(for_life(secret).is_sensitive());
        let opaque = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        assert_eq!(for_life(opaque.clone()), opaque);
    }
}
