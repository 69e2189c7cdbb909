//! Each instance's copy of the revocations, and the feed that keeps it current.
//!
//! The copy is loaded from the sorted set of revocations, then follows the stream they are
//! announced on: a blocking read that Redis answers at once when an entry arrives, and
//! after [`BLOCK`] when none did. An answer, even an empty one, tells the copy was current
//! when it was asked, so a quiet feed is told from a dead one; a copy older than the
//! configured bound is not trusted (requests fail closed). After any failure the feed
//! reconnects and catches up (the stream's last id, the whole set, then the stream from
//! that id) before the copy is trusted again. Entries only ever join the copy; they leave
//! when the tokens they refuse have expired.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use ::redis::Value;
use ::redis::streams::StreamReadReply;

use super::Redis;
use super::connection::Connection;
use super::timing::BLOCK;
use crate::alert::{Alert, AlertHandle, AlertKind};
use crate::auth::{
    MemoryRevocations, RevocationError, RevocationFreshness, TokenIdentity, unix_now,
};

/// The default bound on the age of the copy, past which requests fail closed.
pub const DEFAULT_MAX_COPY_AGE: Duration = Duration::from_secs(5);

/// The default bound on the entries of the copy, past which requests fail closed.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

/// Entries read from the stream per call, and from the set per page.
const READ_COUNT: usize = 1000;
const PAGE: usize = 5000;

/// How often expired entries leave the copy.
const PURGE_EVERY: Duration = Duration::from_secs(30);

/// The store's name in alerts.
const STORE: &str = "redis";

/// The settings of the revocation feed; see [`Redis::revocations_with`].
///
/// ```
/// use std::time::Duration;
/// use portcullis_runtime::redis::RevocationFeed;
///
/// let feed = RevocationFeed::default()
///     .max_copy_age(Duration::from_secs(2))
///     .max_entries(200_000);
/// # let _ = feed;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationFeed {
    max_copy_age: Duration,
    max_entries: usize,
}

impl Default for RevocationFeed {
    fn default() -> Self {
        RevocationFeed {
            max_copy_age: DEFAULT_MAX_COPY_AGE,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl RevocationFeed {
    /// How old the copy may be (since Redis last confirmed it current) before
    /// authenticated requests are refused (503); default [`DEFAULT_MAX_COPY_AGE`]. At
    /// least two seconds: a quiet feed is confirmed about once a second.
    pub fn max_copy_age(mut self, age: Duration) -> Self {
        self.max_copy_age = age.max(BLOCK * 2);
        self
    }

    /// How many entries the copy may hold before authenticated requests are refused (503)
    /// rather than an entry forgotten; default [`DEFAULT_MAX_ENTRIES`].
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries.max(1);
        self
    }
}

/// One instance's copy of the revocations.
pub(crate) struct Copy {
    entries: MemoryRevocations,
    settings: RevocationFeed,
    start: Instant,
    /// Milliseconds since `start` at which Redis last confirmed the copy current; 0:
    /// never.
    confirmed_ms: AtomicU64,
    /// The copy reached `max_entries` and dropped an entry: not trusted until reloaded.
    full: AtomicBool,
    /// A full copy is being reloaded: entries are taken in again.
    reloading: AtomicBool,
    /// The longest a revoked token can stay valid (Unix seconds from now); `u64::MAX`:
    /// unbounded.
    longest_lifetime: AtomicU64,
    alerts: OnceLock<AlertHandle>,
    /// Whether an alert says the copy is behind or full (and a recovery is due).
    alerted: AtomicBool,
    last_error: Mutex<String>,
    /// Entries that could not be read, since the start.
    malformed: AtomicUsize,
}

impl Copy {
    pub(crate) fn new(settings: RevocationFeed) -> Self {
        Copy {
            entries: MemoryRevocations::new(),
            settings,
            start: Instant::now(),
            confirmed_ms: AtomicU64::new(0),
            full: AtomicBool::new(false),
            reloading: AtomicBool::new(false),
            longest_lifetime: AtomicU64::new(u64::MAX),
            alerts: OnceLock::new(),
            alerted: AtomicBool::new(false),
            last_error: Mutex::new("the feed has not started".to_owned()),
            malformed: AtomicUsize::new(0),
        }
    }

    pub(crate) fn attach_alerts(&self, alerts: AlertHandle) {
        let _ = self.alerts.set(alerts);
    }

    pub(crate) fn attach_longest_lifetime(&self, lifetime: Option<Duration>) {
        self.longest_lifetime.store(
            lifetime.map_or(u64::MAX, |lifetime| lifetime.as_secs()),
            Ordering::Relaxed,
        );
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether the token is revoked, from the copy; an error when the copy is not
    /// trusted.
    #[inline]
    pub(crate) fn check(
        &self,
        token: TokenIdentity<'_>,
        now: u64,
    ) -> Result<bool, RevocationError> {
        if let RevocationFreshness::Behind { reason } = self.freshness() {
            return Err(RevocationError(reason));
        }
        Ok(self.entries.is_revoked_now(token, now))
    }

    pub(crate) fn freshness(&self) -> RevocationFreshness {
        self.freshness_at(self.now_ms())
    }

    fn freshness_at(&self, now_ms: u64) -> RevocationFreshness {
        if self.full.load(Ordering::Relaxed) {
            return RevocationFreshness::Behind {
                reason: format!(
                    "the copy of the revocations holds its limit of {} entries",
                    self.settings.max_entries
                ),
            };
        }
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        if confirmed == 0 {
            return RevocationFreshness::Behind {
                reason: format!(
                    "the copy of the revocations is not loaded yet: {}",
                    self.last_error()
                ),
            };
        }
        let age = now_ms.saturating_sub(confirmed);
        if age > self.max_age_ms() {
            return RevocationFreshness::Behind {
                reason: format!(
                    "the copy of the revocations is {:.1} s old (at most {} s): {}",
                    age as f64 / 1000.0,
                    self.settings.max_copy_age.as_secs_f64(),
                    self.last_error()
                ),
            };
        }
        RevocationFreshness::Current
    }

    fn max_age_ms(&self) -> u64 {
        u64::try_from(self.settings.max_copy_age.as_millis()).unwrap_or(u64::MAX)
    }

    fn last_error(&self) -> String {
        self.last_error
            .lock()
            .map(|error| error.clone())
            .unwrap_or_default()
    }

    fn note_error(&self, error: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = error;
        }
    }

    /// Redis confirmed the copy current as of `at_ms`.
    fn confirm(&self, at_ms: u64) {
        self.confirmed_ms.fetch_max(at_ms.max(1), Ordering::AcqRel);
    }

    /// Adds one entry (`token <issuer> <jti>` or `subject <issuer> <before> <sub>`, until
    /// `until`, Unix seconds), unless the copy is full.
    pub(crate) fn add(&self, member: &str, until: u64) {
        let Some(entry) = Entry::parse(member) else {
            if self.malformed.fetch_add(1, Ordering::Relaxed) < 10 {
                tracing::error!(target: "portcullis::alert", store = STORE, "a revocation entry could not be read and is ignored (see the format in docs/redis.md)");
            }
            return;
        };
        let now = unix_now();
        let until = until.min(now.saturating_add(self.longest_lifetime.load(Ordering::Relaxed)));
        if until < now {
            return;
        }
        // Full, the copy is not trusted until reloaded: what it misses meanwhile is
        // found then.
        if self.full.load(Ordering::Acquire) && !self.reloading.load(Ordering::Acquire) {
            return;
        }
        match entry {
            Entry::Token { issuer, id } => self.entries.revoke_token_now(issuer, id, until),
            Entry::Subject {
                issuer,
                before,
                subject,
            } => self
                .entries
                .revoke_subject_now(issuer, subject, before, until),
        }
        if self.entries.len() > self.settings.max_entries
            && !self.full.swap(true, Ordering::AcqRel)
            && !self.reloading.load(Ordering::Acquire)
        {
            tracing::error!(target: "portcullis::alert", store = STORE, limit = self.settings.max_entries, "the copy of the revocations is full: authenticated requests are refused");
            self.raise(AlertKind::RevocationsFull {
                store: STORE,
                limit: self.settings.max_entries,
            });
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops expired entries; whether a full copy now has room (and must be reloaded).
    fn purge(&self) -> bool {
        self.entries.purge_expired(unix_now());
        self.full.load(Ordering::Relaxed) && self.entries.len() < self.settings.max_entries / 10 * 9
    }

    /// Alerts once when the copy stops being trusted, once when it is again.
    fn watch(&self) {
        // A copy still loading at start-up is not behind yet: it is given its bound.
        if self.confirmed_ms.load(Ordering::Acquire) == 0
            && self.start.elapsed() <= self.settings.max_copy_age
        {
            return;
        }
        let current = self.freshness();
        let alerted = self.alerted.load(Ordering::Relaxed);
        match (&current, alerted) {
            (RevocationFreshness::Behind { reason }, false)
                if !self.full.load(Ordering::Relaxed) =>
            {
                self.alerted.store(true, Ordering::Relaxed);
                tracing::error!(target: "portcullis::alert", store = STORE, %reason, "the copy of the revocations is behind: authenticated requests are refused");
                self.raise(AlertKind::RevocationsBehind {
                    store: STORE,
                    reason: reason.clone(),
                });
            }
            (RevocationFreshness::Current, true) => {
                self.alerted.store(false, Ordering::Relaxed);
                tracing::warn!(target: "portcullis::alert", store = STORE, "the copy of the revocations is current again");
                self.raise(AlertKind::RevocationsCurrent { store: STORE });
            }
            _ => {}
        }
    }

    fn raise(&self, kind: AlertKind) {
        if let Some(alerts) = self.alerts.get() {
            alerts.raise(Alert {
                kind,
                count: 1,
                window: Duration::ZERO,
            });
        }
    }

    /// Waits until the copy is current, at most its age bound.
    pub(crate) async fn loaded(&self) {
        let deadline = Instant::now() + self.settings.max_copy_age;
        while !self.freshness().is_current() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// One revocation, as written in the set and the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    Token {
        issuer: &'a str,
        id: &'a str,
    },
    Subject {
        issuer: &'a str,
        before: u64,
        subject: &'a str,
    },
}

impl<'a> Entry<'a> {
    /// `token <issuer> <jti>` or `subject <issuer> <issued before> <sub>`: the identifier
    /// last, so that it may hold spaces.
    pub(crate) fn parse(member: &'a str) -> Option<Entry<'a>> {
        let (kind, rest) = member.split_once(' ')?;
        let (issuer, rest) = rest.split_once(' ')?;
        if issuer.is_empty() || rest.is_empty() {
            return None;
        }
        match kind {
            "token" => Some(Entry::Token { issuer, id: rest }),
            "subject" => {
                let (before, subject) = rest.split_once(' ')?;
                (!subject.is_empty()).then_some(())?;
                Some(Entry::Subject {
                    issuer,
                    before: before.parse().ok()?,
                    subject,
                })
            }
            _ => None,
        }
    }

    /// The member written for this entry.
    pub(crate) fn member(&self) -> String {
        match self {
            Entry::Token { issuer, id } => format!("token {issuer} {id}"),
            Entry::Subject {
                issuer,
                before,
                subject,
            } => format!("subject {issuer} {before} {subject}"),
        }
    }
}

/// Alerts when `copy` falls behind and when it catches up, looking every 250 ms for as
/// long as it lives (whatever its feed is waiting on).
pub(crate) async fn watch(copy: Weak<Copy>) {
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    loop {
        ticks.tick().await;
        let Some(held) = copy.upgrade() else { return };
        held.watch();
    }
}

/// Keeps `copy` current for as long as it lives.
pub(crate) async fn follow(redis: Redis, copy: Weak<Copy>) {
    let entries_key = redis.keys().revocation_entries();
    let feed_key = redis.keys().revocation_feed();
    let mut backoff = Duration::from_millis(50);
    let mut last_purge = Instant::now();
    loop {
        if copy.strong_count() == 0 {
            return;
        }
        let connecting = redis
            .clients()
            .dedicated(redis.timeout(), redis.timeout() + BLOCK);
        let connected = match tokio::time::timeout(redis.timeout(), connecting).await {
            Ok(connected) => connected.map_err(|error| super::error::describe(&error)),
            Err(_) => Err(format!("no connection within {:?}", redis.timeout())),
        };
        let outcome = match connected {
            Ok(mut connection) => {
                backoff = Duration::from_millis(50);
                follow_on(
                    &mut connection,
                    &copy,
                    &entries_key,
                    &feed_key,
                    &mut last_purge,
                    redis.timeout(),
                )
                .await
            }
            Err(error) => Err(error),
        };
        let Some(held) = copy.upgrade() else { return };
        if let Err(error) = outcome {
            held.note_error(error);
        }
        drop(held);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Catches up on one connection, then follows the stream until a failure (or until a
/// full copy has room again, which needs a reload).
async fn follow_on(
    connection: &mut Connection,
    copy: &Weak<Copy>,
    entries_key: &str,
    feed_key: &str,
    last_purge: &mut Instant,
    response_timeout: Duration,
) -> Result<(), String> {
    let describe = |error: ::redis::RedisError| super::error::describe(&error);
    // The stream's last id first: whatever is added from then on is read from the
    // stream, whatever was there before is in the set.
    let mut last_id = last_stream_id(connection, feed_key)
        .await
        .map_err(describe)?;
    let reloading_full = {
        let Some(held) = copy.upgrade() else {
            return Ok(());
        };
        let full = held.full.load(Ordering::Acquire);
        held.reloading.store(full, Ordering::Release);
        load_set(connection, &held, entries_key)
            .await
            .map_err(describe)?;
        full
    };
    let mut block = false;
    loop {
        let Some(held) = copy.upgrade() else {
            return Ok(());
        };
        let sent = held.now_ms();
        drop(held);
        let mut read = ::redis::cmd("XREAD");
        read.arg("COUNT").arg(READ_COUNT);
        if block {
            read.arg("BLOCK").arg(BLOCK.as_millis() as u64);
        }
        read.arg("STREAMS").arg(feed_key).arg(&last_id);
        // Bounded here too: a server that stops answering without closing the connection
        // must not hold the feed for ever.
        let reply: Option<StreamReadReply> = match tokio::time::timeout(
            BLOCK + response_timeout,
            read.query_async(connection),
        )
        .await
        {
            Ok(reply) => reply.map_err(describe)?,
            Err(_) => {
                return Err(format!(
                    "no answer from Redis within {:?}",
                    BLOCK + response_timeout
                ));
            }
        };
        let Some(held) = copy.upgrade() else {
            return Ok(());
        };
        let read_before = last_id.clone();
        let mut read_any = 0usize;
        for stream in reply.iter().flat_map(|reply| &reply.keys) {
            for entry in &stream.ids {
                read_any += 1;
                last_id.clone_from(&entry.id);
                let member = entry.map.get("entry").and_then(text);
                let until = entry
                    .map
                    .get("until")
                    .and_then(text)
                    .and_then(|until| until.parse::<u64>().ok());
                match (member, until) {
                    (Some(member), Some(until)) => held.add(&member, until),
                    _ => held.add("", 0),
                }
            }
        }
        // An answer confirms the copy as of the read (an empty blocking read: as of the
        // end of its wait, which Redis measured from after it was sent).
        let confirmed = if read_any == 0 && block {
            sent + BLOCK.as_millis() as u64
        } else {
            sent
        };
        if reloading_full && held.reloading.swap(false, Ordering::AcqRel) {
            // Reloaded whole: trusted again if it fits now.
            let fits = held.len() <= held.settings.max_entries;
            held.full.store(!fits, Ordering::Release);
        }
        held.confirm(confirmed);
        // A read that found entries may have more waiting: read again at once, unless the
        // stream was trimmed past what this copy last read (it fell more than the stream's
        // length behind): then only a reload of the whole set finds what was trimmed.
        block = read_any == 0;
        if read_any > 0
            && read_before != "0-0"
            && first_stream_id(connection, feed_key)
                .await
                .map_err(describe)?
                .is_some_and(|first| stream_id(&first) > stream_id(&read_before))
        {
            return Err(
                "the revocation feed fell behind the stream's length: reloading".to_owned(),
            );
        }
        if last_purge.elapsed() >= PURGE_EVERY {
            *last_purge = Instant::now();
            if held.purge() {
                return Err("the copy of the revocations has room again: reloading".to_owned());
            }
        }
    }
}

/// The id of the stream's oldest entry, if any.
async fn first_stream_id(
    connection: &mut Connection,
    feed_key: &str,
) -> Result<Option<String>, ::redis::RedisError> {
    let first: Vec<(String, Value)> = ::redis::cmd("XRANGE")
        .arg(feed_key)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(connection)
        .await?;
    Ok(first.into_iter().next().map(|(id, _)| id))
}

/// A stream id (`<ms>-<seq>`) as numbers, to compare.
fn stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

async fn last_stream_id(
    connection: &mut Connection,
    feed_key: &str,
) -> Result<String, ::redis::RedisError> {
    let last: Vec<(String, Value)> = ::redis::cmd("XREVRANGE")
        .arg(feed_key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(connection)
        .await?;
    Ok(last
        .into_iter()
        .next()
        .map_or_else(|| "0-0".to_owned(), |(id, _)| id))
}

/// Reads the whole set of live revocations into the copy, a page at a time by score (an
/// entry seen twice is added twice, which changes nothing).
async fn load_set(
    connection: &mut Connection,
    copy: &Copy,
    entries_key: &str,
) -> Result<(), ::redis::RedisError> {
    let mut min = unix_now().to_string();
    loop {
        let page: Vec<(String, f64)> = ::redis::cmd("ZRANGE")
            .arg(entries_key)
            .arg(&min)
            .arg("+inf")
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(PAGE)
            .arg("WITHSCORES")
            .query_async(connection)
            .await?;
        for (member, until) in &page {
            copy.add(member, score(*until));
        }
        if page.len() < PAGE {
            return Ok(());
        }
        let first = score(page[0].1);
        let last = score(page[page.len() - 1].1);
        if first == last {
            // A whole page of one score: read the rest of that score at once.
            let same: Vec<(String, f64)> = ::redis::cmd("ZRANGE")
                .arg(entries_key)
                .arg(last)
                .arg(last)
                .arg("BYSCORE")
                .arg("WITHSCORES")
                .query_async(connection)
                .await?;
            for (member, until) in &same {
                copy.add(member, score(*until));
            }
            min = format!("({last}");
        } else {
            min = last.to_string();
        }
    }
}

fn score(until: f64) -> u64 {
    if until.is_finite() && until > 0.0 {
        // Saturating: a score past u64 is "for ever".
        until as u64
    } else {
        0
    }
}

fn text(value: &Value) -> Option<String> {
    ::redis::from_redis_value::<String>(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_compare_as_numbers() {
        assert!(stream_id("1700000000123-0") > stream_id("999999999999-5"));
        assert!(stream_id("5-10") > stream_id("5-9"));
        assert_eq!(stream_id("0-0"), (0, 0));
    }

    #[test]
    fn entries_read_back_as_written() {
        for entry in [
            Entry::Token {
                issuer: "https://id.example/",
                id: "a b c",
            },
            Entry::Subject {
                issuer: "https://id.example/",
                before: 1_700_000_000,
                subject: "user 7",
            },
        ] {
            assert_eq!(Entry::parse(&entry.member()), Some(entry));
        }
        for bad in [
            "",
            "token",
            "token https://i/",
            "token  j",
            "subject https://i/ x alice",
            "subject https://i/ 12",
            "grant https://i/ j",
        ] {
            assert_eq!(Entry::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_copy_is_not_trusted_before_it_is_loaded_nor_once_old() {
        let copy = Copy::new(RevocationFeed::default().max_copy_age(Duration::from_secs(2)));
        let token = TokenIdentity {
            issuer: "https://i/",
            token_id: Some("j"),
            subject: None,
            issued_at: None,
        };
        assert!(copy.check(token, unix_now()).is_err(), "not loaded");
        copy.confirm(copy.now_ms());
        assert_eq!(copy.check(token, unix_now()), Ok(false));
        copy.add("token https://i/ j", unix_now() + 60);
        assert_eq!(copy.check(token, unix_now()), Ok(true));
        let confirmed = copy.confirmed_ms.load(Ordering::Acquire);
        assert!(copy.freshness_at(confirmed + 2_000).is_current());
        assert!(
            !copy.freshness_at(confirmed + 2_001).is_current(),
            "older than the bound"
        );
    }

    #[test]
    fn a_full_copy_refuses_rather_than_forgets() {
        let copy = Copy::new(RevocationFeed::default().max_entries(2));
        copy.confirm(copy.now_ms());
        let later = unix_now() + 60;
        copy.add("token https://i/ a", later);
        copy.add("token https://i/ b", later);
        assert!(copy.freshness().is_current());
        copy.add("token https://i/ c", later);
        assert!(!copy.freshness().is_current(), "full: fails closed");
        assert_eq!(copy.len(), 3, "nothing is forgotten");
        copy.add("token https://i/ d", later);
        assert_eq!(copy.len(), 3, "nothing more is taken in until reloaded");
    }

    #[test]
    fn entries_expire_with_the_longest_lifetime() {
        let copy = Copy::new(RevocationFeed::default());
        copy.attach_longest_lifetime(Some(Duration::from_secs(0)));
        copy.add("token https://i/ a", u64::MAX);
        copy.entries.purge_expired(unix_now() + 2);
        assert_eq!(copy.len(), 0, "capped at now + the longest lifetime");
    }
}
