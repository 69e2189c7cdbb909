//! Request ids: taken from `X-Request-Id` when well formed, generated otherwise, and sent
//! back on the response, so one id follows a request through proxies, logs and audit.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
const MAX_LEN: usize = 128;

/// Up to this many distinct field names, a request is searched for `X-Request-Id` name by
/// name rather than by hash.
const FEW_FIELDS: usize = 16;

/// The first generated id, and how many follow it. Every id has 20 digits, as many as the
/// buffer `http` writes a `u64` header value into, so the value is one allocation: a
/// shorter number would leave part of the buffer empty, and `bytes` would allocate a
/// second block to share it. `FIRST_ID + ID_SPAN - 1` is below `u64::MAX`.
const FIRST_ID: u64 = 10_000_000_000_000_000_000;
const ID_SPAN: u64 = 1 << 62;

/// A request's id.
#[derive(Clone)]
pub struct RequestId(Repr);

#[derive(Clone)]
enum Repr {
    /// Generated: a number and its decimal digits, written once when it is made (cheaper
    /// than synchronizing a lazy copy, and an audited request reads them). Held inline, so
    /// the copies for the handler and the audit event cost no allocation and no reference
    /// count.
    Generated { number: u64, text: Digits },
    /// The client's, as sent.
    Given(HeaderValue),
}

/// The decimal digits of a `u64`.
#[derive(Clone, Copy)]
struct Digits {
    bytes: [u8; 20],
    len: u8,
}

impl Digits {
    fn of(number: u64) -> Digits {
        let mut buffer = itoa::Buffer::new();
        let text = buffer.format(number).as_bytes();
        let mut bytes = [0; 20];
        bytes[..text.len()].copy_from_slice(text);
        // At most 20 digits.
        let len = text.len() as u8;
        Digits { bytes, len }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("unknown")
    }
}

impl RequestId {
    /// The client's `X-Request-Id` if there is exactly one and it is 1 to 128 characters of
    /// `A-Z a-z 0-9 - _ . : / + =` (so it is safe in logs), else a new one.
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        // Most clients send none. Among a few fields, comparing names finds that out for
        // less than hashing this one's for a lookup: a standard name differs from it by
        // its kind alone, most custom ones by their length.
        let maybe_sent =
            headers.keys_len() > FEW_FIELDS || headers.keys().any(|name| *name == REQUEST_ID);
        if !maybe_sent {
            return RequestId::generate();
        }
        // One lookup, and a second only to refuse repeats.
        match headers.get(REQUEST_ID) {
            Some(value)
                if well_formed(value.as_bytes())
                    && headers.get_all(REQUEST_ID).iter().nth(1).is_none() =>
            {
                RequestId(Repr::Given(value.clone()))
            }
            _ => RequestId::generate(),
        }
    }

    /// A new id: a number of 20 decimal digits counted from a random start drawn once per
    /// process. Each thread takes the numbers in blocks of 1024 from one counter,
    /// so that a request touches no memory another thread writes. Unique for the process's
    /// life (2^62 ids before one repeats); two processes' ids meet only if their starts
    /// fall closer than the number of ids they take: about one chance in 2 million for two
    /// processes serving 10^12 requests each.
    pub fn generate() -> RequestId {
        static START: OnceLock<u64> = OnceLock::new();
        let start = *START.get_or_init(process_seed);
        let count = start.wrapping_add(next_count());
        let number = FIRST_ID + (count & (ID_SPAN - 1));
        RequestId(Repr::Generated {
            number,
            text: Digits::of(number),
        })
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Generated { text, .. } => text.as_str(),
            // Only well-formed ASCII gets in.
            Repr::Given(value) => value.to_str().unwrap_or("unknown"),
        }
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        match &self.0 {
            // Digits only: `http` makes this value without the byte-by-byte check that a
            // value of arbitrary text needs.
            Repr::Generated { number, .. } => HeaderValue::from(*number),
            Repr::Given(value) => value.clone(),
        }
    }
}

/// Two ids are equal when they read the same.
impl PartialEq for RequestId {
    fn eq(&self, other: &RequestId) -> bool {
        match (&self.0, &other.0) {
            (Repr::Generated { number: a, .. }, Repr::Generated { number: b, .. }) => a == b,
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl Eq for RequestId {}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many ids a thread takes from the process's counter at a time.
const ID_BLOCK: u64 = 1024;

/// The process's counter of ids, taken [`ID_BLOCK`] at a time.
static COUNTER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The next id of this thread's block, and the end of the block.
    static BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// The next count of this thread's block, taking a new block when it is used up (one
/// from the counter itself when the thread is ending).
#[inline]
fn next_count() -> u64 {
    BLOCK
        .try_with(|block| {
            let (mut next, mut end) = block.get();
            if next == end {
                next = COUNTER.fetch_add(ID_BLOCK, Ordering::Relaxed);
                end = next.wrapping_add(ID_BLOCK);
            }
            block.set((next.wrapping_add(1), end));
            next
        })
        .unwrap_or_else(|_| COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// 64 random bits for this process: where its ids start counting (the start is not a
/// secret, only unlikely to be near another process's).
///
/// Taken from the standard library's hash keys, which the operating system's generator
/// seeds, rather than from aws-lc's generator: seeding that one costs tens of
/// milliseconds, which the first request of every process would wait for.
fn process_seed() -> u64 {
    RandomState::new().hash_one((std::process::id(), SystemTime::now()))
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
            assert!(
                id.as_str().parse::<u64>().is_ok(),
                "{bad:?} → {}",
                id.as_str()
            );
        }
        let long = "a".repeat(129);
        assert_ne!(RequestId::from_headers(&headers(&[&long])).as_str(), long);
        let given = RequestId::from_headers(&headers(&["abc-123"]));
        assert_eq!(given.header_value(), "abc-123");
        // Found among few fields and among many, wherever it is.
        for others in [0, 5, FEW_FIELDS, 40] {
            for position in [0, others / 2, others] {
                let mut map = HeaderMap::new();
                for i in 0..=others {
                    if i == position {
                        map.append(REQUEST_ID, HeaderValue::from_static("trace-7"));
                    } else {
                        map.append(
                            HeaderName::from_bytes(format!("x-other-{i}").as_bytes()).unwrap(),
                            HeaderValue::from_static("v"),
                        );
                    }
                }
                let id = RequestId::from_headers(&map);
                assert_eq!(id.as_str(), "trace-7", "{others} others, at {position}");
            }
        }
    }

    #[test]
    fn ids_generated_on_many_threads_never_repeat() {
        // Each thread crosses a few blocks, and ends while holding part of one.
        let per_thread = 3 * ID_BLOCK as usize + 7;
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(move || {
                    (0..per_thread)
                        .map(|_| RequestId::generate().as_str().to_owned())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for thread in threads {
            for id in thread.join().unwrap() {
                assert!(seen.insert(id.clone()), "{id} generated twice");
            }
        }
        assert_eq!(seen.len(), 8 * per_thread);
    }

    #[test]
    fn generated_ids_count_up_and_read_the_same_everywhere() {
        let first = RequestId::generate();
        let second = RequestId::generate();
        assert_ne!(first, second);
        let (a, b): (u64, u64) = (
            first.as_str().parse().unwrap(),
            second.as_str().parse().unwrap(),
        );
        assert_eq!((first.as_str().len(), second.as_str().len()), (20, 20));
        assert!(FIRST_ID.checked_add(ID_SPAN - 1).is_some());
        // Other tests generate ids at the same time: later, not necessarily next.
        assert!(
            b.wrapping_sub(a) >= 1 && b.wrapping_sub(a) < 1 << 20,
            "{a} then {b}"
        );
        for id in [first, second] {
            assert_eq!(id.header_value(), id.as_str());
            assert_eq!(id.clone().as_str(), id.as_str());
        }
        // Every length of number reads back whole, as text and as a header value.
        for number in [0, 9, 10, u64::MAX] {
            let id = RequestId(Repr::Generated {
                number,
                text: Digits::of(number),
            });
            let text = number.to_string();
            assert_eq!(id.header_value(), HeaderValue::from(number));
            assert_eq!((id.as_str(), id.to_string()), (text.as_str(), text.clone()));
            let given = RequestId::from_headers(&headers(&[&text]));
            assert_eq!(given, id, "the same text is the same id");
        }
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
