//! What requests are counted under, as a keyed 64-bit hash: small in memory, cheap to
//! compare, and never the raw identity (which stays out of the limiter's memory).

use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;
use std::sync::OnceLock;

/// The key a request is counted under.
///
/// Two identities sharing a hash (a 2⁻⁶⁴ chance per pair, with a per-process random key
/// so it cannot be aimed at) would share a quota: a client could be throttled early,
/// never let through more than its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateKey(u64);

fn hasher() -> &'static std::hash::RandomState {
    static HASHER: OnceLock<std::hash::RandomState> = OnceLock::new();
    HASHER.get_or_init(std::hash::RandomState::new)
}

impl RateKey {
    /// Everyone together.
    pub const GLOBAL: RateKey = RateKey(0);

    /// A client or subject identifier.
    pub fn of_id(id: &str) -> RateKey {
        RateKey(hasher().hash_one((0u8, id)).max(1))
    }

    /// An IP address.
    pub fn of_ip(ip: IpAddr) -> RateKey {
        RateKey(hasher().hash_one((1u8, ip)).max(1))
    }
}

/// Hashes a [`RateKey`] to itself, for the maps keyed by rate keys: a rate key already is
/// a keyed hash, uniform and unpredictable (so no one can aim collisions at a map), and
/// hashing it again (SipHash by default) would only cost time.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RateKeyHasher(u64);

impl Hasher for RateKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    /// Not used by [`RateKey`]; mixes the bytes in, for completeness.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Builds [`RateKeyHasher`]s.
pub(crate) type BuildRateKeyHasher = BuildHasherDefault<RateKeyHasher>;

/// The identity a request is counted under, before hashing; shared stores (Redis) key on
/// it so that every instance agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateIdentity<'a> {
    /// A client or subject identifier.
    Id(&'a str),
    /// An IP address.
    Ip(IpAddr),
    /// Everyone together.
    Global,
}

impl RateIdentity<'_> {
    /// The in-memory key.
    #[inline]
    pub fn key(&self) -> RateKey {
        match self {
            RateIdentity::Id(id) => RateKey::of_id(id),
            RateIdentity::Ip(ip) => RateKey::of_ip(*ip),
            RateIdentity::Global => RateKey::GLOBAL,
        }
    }
}
