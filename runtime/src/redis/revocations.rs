//! Revocations in Redis: a token revoked through one instance is refused by all; entries
//! expire with the tokens they refuse.

use ::redis::{AsyncCommands, Script};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Redis;
use crate::auth::{RevocationError, RevocationFuture, RevocationStore, TokenIdentity, unix_now};

/// KEYS[1]: the subject's key. ARGV[1]: issued before. ARGV[2]: keep until (Unix s).
/// A later line wins; the entry lives until the last token it could refuse has expired.
const REVOKE_SUBJECT: &str = r#"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local before = tonumber(ARGV[1])
if before > current then current = before end
redis.call('SET', KEYS[1], string.format('%d', current), 'EXAT', ARGV[2])
return current
"#;

/// Revocations shared by every instance.
pub struct RedisRevocations {
    redis: Redis,
    revoke_subject: Script,
}

impl std::fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("redis", &self.redis)
            .finish()
    }
}

impl RedisRevocations {
    pub(crate) fn new(redis: Redis) -> Self {
        RedisRevocations {
            redis,
            revoke_subject: Script::new(REVOKE_SUBJECT),
        }
    }

    /// A stable key for (issuer, id): a SHA-256 digest, so that any identifier makes a
    /// short, safe key and every instance computes the same.
    fn key(&self, kind: &str, issuer: &str, id: &str) -> String {
        let mut input = Vec::with_capacity(issuer.len() + id.len() + 1);
        input.extend_from_slice(issuer.as_bytes());
        input.push(0);
        input.extend_from_slice(id.as_bytes());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
        self.redis
            .key(&["rv", kind, &URL_SAFE_NO_PAD.encode(&digest.as_ref()[..18])])
    }
}

/// What happens to requests while the revocations cannot be read.
const FAIL_CLOSED: &str = "authenticated requests are refused (503) until it returns";

impl RevocationStore for RedisRevocations {
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        self.redis.attach_alerts(alerts);
    }

    fn revoke_token<'a>(
        &'a self,
        issuer: &'a str,
        jti: &'a str,
        expires_at: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(async move {
            if expires_at <= unix_now() {
                return Ok(());
            }
            let key = self.key("t", issuer, jti);
            let mut connection = self.redis.connection();
            let options = ::redis::SetOptions::default()
                .with_expiration(::redis::SetExpiry::EXAT(expires_at));
            self.redis
                .call(
                    "revoke token",
                    FAIL_CLOSED,
                    connection.set_options::<_, _, ()>(key, 1u8, options),
                )
                .await
                .map_err(RevocationError)
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
        issued_before: u64,
        keep_until: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(async move {
            if keep_until <= unix_now() {
                return Ok(());
            }
            let key = self.key("s", issuer, subject);
            let mut connection = self.redis.connection();
            let mut invocation = self.revoke_subject.key(key);
            invocation
                .arg(issued_before)
                .arg(keep_until.min(i64::MAX as u64));
            self.redis
                .call(
                    "revoke subject",
                    FAIL_CLOSED,
                    invocation.invoke_async::<u64>(&mut connection),
                )
                .await
                .map(|_| ())
                .map_err(RevocationError)
        })
    }

    fn is_revoked<'a>(&'a self, token: TokenIdentity<'a>, _now: u64) -> RevocationFuture<'a, bool> {
        Box::pin(async move {
            let token_key = token.token_id.map(|jti| self.key("t", token.issuer, jti));
            let subject_key = token
                .subject
                .map(|subject| self.key("s", token.issuer, subject));
            let keys: Vec<String> = token_key
                .iter()
                .chain(subject_key.iter())
                .cloned()
                .collect();
            if keys.is_empty() {
                return Ok(false);
            }
            let mut connection = self.redis.connection();
            let values: Vec<Option<u64>> = self
                .redis
                .call("check revocation", FAIL_CLOSED, connection.mget(&keys))
                .await
                .map_err(RevocationError)?;
            let mut values = values.into_iter();
            if token_key.is_some() && values.next().flatten().is_some() {
                return Ok(true);
            }
            if subject_key.is_some()
                && let Some(issued_before) = values.next().flatten()
            {
                return Ok(token.issued_at.is_none_or(|iat| iat < issued_before));
            }
            Ok(false)
        })
    }
}
