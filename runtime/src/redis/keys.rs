//! The keys Portcullis writes, laid out for Redis Cluster: the keys one decision touches
//! share a hash tag (`{...}`), so they live in one slot.
//!
//! - `<prefix>rl:{<quota>|<who>}`: the GCRA state of one quota and caller, `<who>` being
//!   `id:<client or subject>`, `ip:<address>` or `global` (braces in a name become
//!   parentheses, so the tag is always the whole of `quota|who`);
//! - `<prefix>{revocations}:entries` and `<prefix>{revocations}:feed`: the revocations
//!   (a sorted set) and their feed (a stream); see `docs/redis.md` for the format.

use std::fmt::Write;

use crate::rate::RateIdentity;

/// The keys under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct KeySpace {
    prefix: String,
}

impl KeySpace {
    /// Keys under `prefix`; `None` when it holds a brace (which would move the hash tag).
    pub(crate) fn new(prefix: &str) -> Option<KeySpace> {
        (!prefix.contains(['{', '}'])).then(|| KeySpace {
            prefix: prefix.to_owned(),
        })
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The GCRA state of `quota` for `identity`.
    pub(crate) fn rate(&self, quota: &str, identity: RateIdentity<'_>) -> String {
        let mut key = String::with_capacity(self.prefix.len() + quota.len() + 48);
        key.push_str(&self.prefix);
        key.push_str("rl:{");
        push_untagged(&mut key, quota);
        key.push('|');
        match identity {
            RateIdentity::Id(id) => {
                key.push_str("id:");
                push_untagged(&mut key, id);
            }
            RateIdentity::Ip(ip) => {
                let _ = write!(key, "ip:{ip}");
            }
            RateIdentity::Global => key.push_str("global"),
        }
        key.push('}');
        key
    }

    /// The sorted set of revocations: member `token <issuer> <jti>` or
    /// `subject <issuer> <issued before> <sub>`, score: until when (Unix seconds).
    pub(crate) fn revocation_entries(&self) -> String {
        format!("{}{{revocations}}:entries", self.prefix)
    }

    /// The stream every revocation is announced on.
    pub(crate) fn revocation_feed(&self) -> String {
        format!("{}{{revocations}}:feed", self.prefix)
    }
}

/// Appends `text` with its braces made parentheses.
fn push_untagged(key: &mut String, text: &str) {
    for c in text.chars() {
        key.push(match c {
            '{' => '(',
            '}' => ')',
            c => c,
        });
    }
}

/// The Cluster hash slot of `key` (CRC16/XMODEM of its hash tag, or of the whole key).
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16(tagged) % 16384
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_cluster_specification() {
        // The examples of the Redis Cluster specification.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
    }

    #[test]
    fn a_decision_touches_one_slot_whatever_the_names() {
        let keys = KeySpace::new("portcullis:").unwrap();
        let key = keys.rate("GET /orders/{id}", RateIdentity::Id("client-{7}"));
        assert_eq!(key, "portcullis:rl:{GET /orders/(id)|id:client-(7)}");
        assert_eq!(
            slot(key.as_bytes()),
            slot(b"GET /orders/(id)|id:client-(7)")
        );
        assert_eq!(
            slot(keys.revocation_entries().as_bytes()),
            slot(keys.revocation_feed().as_bytes())
        );
        assert!(KeySpace::new("app{1}:").is_none());
    }
}
