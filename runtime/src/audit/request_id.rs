//! Request ids: taken from `X-Request-Id` when well formed, generated otherwise, and sent
//! back on the response, so one id follows a request through proxies, logs and audit.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
const MAX_LEN: usize = 128;

/// A request's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's `X-Request-Id` if there is exactly one and it is 1 to 128 characters of
    /// `A-Z a-z 0-9 - _ . : / + =` (so it is safe in logs), else a new one.
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        // One lookup when the client sent none, as most do; a second only to refuse repeats.
        match headers.get(REQUEST_ID) {
            Some(value)
                if well_formed(value.as_bytes())
                    && headers.get_all(REQUEST_ID).iter().nth(1).is_none() =>
            {
                RequestId(value.clone())
            }
            _ => RequestId::generate(),
        }
    }

    /// A new id: a random per-process prefix and a counter, unique for the process's life
    /// and never reused across restarts.
    pub fn generate() -> RequestId {
        // `{prefix:016x}-`, written once per process.
        static PREFIX: OnceLock<[u8; 17]> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = PREFIX.get_or_init(|| {
            let mut prefix = [b'-'; 17];
            write_hex(&mut prefix[..16], process_seed());
            prefix
        });
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        // `{prefix}{count:012x}`, without the formatting machinery: this runs for nearly
        // every request.
        let mut text = [0u8; 29];
        text[..17].copy_from_slice(prefix);
        write_hex(&mut text[17..], count);
        // Owned by reference count, so the copies for the handler, the response and the
        // audit event share one allocation.
        RequestId(
            HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
        )
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        // Only well-formed ASCII ever gets in.
        self.0.to_str().unwrap_or("unknown")
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

/// 64 random bits for this process, to keep its ids apart from other processes' (the
/// prefix is not a secret, only unlikely to repeat).
///
/// Taken from the standard library's hash keys, which the operating system's generator
/// seeds, rather than from aws-lc's generator: seeding that one costs tens of
/// milliseconds, which the first request of every process would wait for.
fn process_seed() -> u64 {
    RandomState::new().hash_one((std::process::id(), SystemTime::now()))
}

/// Writes the low `4 * out.len()` bits of `value` as lowercase hex, most significant first.
fn write_hex(out: &mut [u8], mut value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

fn well_formed(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.len() <= MAX_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(REQUEST_ID, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn takes_well_formed_ids_and_generates_the_rest() {
        assert_eq!(
            RequestId::from_headers(&headers(&["abc-123:x/y"])).as_str(),
            "abc-123:x/y"
        );
        for bad in [vec![""], vec!["a b"], vec!["<script>"], vec!["a", "b"]] {
            let id = RequestId::from_headers(&headers(&bad));
            assert_eq!(id.as_str().len(), 29, "{bad:?} → {}", id.as_str());
        }
        let long = "a".repeat(129);
        assert_ne!(RequestId::from_headers(&headers(&[&long])).as_str(), long);
        assert_ne!(RequestId::generate(), RequestId::generate());
        let id = RequestId::generate();
        let (prefix, count) = id.as_str().split_once('-').unwrap();
        assert_eq!((prefix.len(), count.len()), (16, 12));
        assert!(u64::from_str_radix(prefix, 16).is_ok());
        assert!(u64::from_str_radix(count, 16).is_ok());
    }

    #[test]
    fn process_seeds_are_random() {
        // Each draw hashes the time with keys of its own, so all differ; equal draws would
        // mean a constant prefix, and the ids of every process colliding. (That the keys come
        // from the operating system is the standard library's promise, not tested here.)
        let seeds: std::collections::HashSet<u64> = (0..64).map(|_| process_seed()).collect();
        assert_eq!(seeds.len(), 64);
    }
}
