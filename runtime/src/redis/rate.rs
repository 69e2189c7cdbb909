//! GCRA in Redis: one round trip per decision, the whole update in one Lua script (atomic),
//! keys that expire on their own, the clock of the Redis server (so instances whose clocks
//! disagree still agree on quotas).

use ::redis::Script;

use super::Redis;
use crate::rate::{
    MemoryRateStore, RateDecision, RateFuture, RateIdentity, RateRequest, RateStore, RateStoreError,
};

/// What to do when Redis does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnreachable {
    /// Refuse the request (503): no instance lets more through than the shared quota.
    Refuse,
    /// Count in this instance's memory until Redis returns: each instance enforces the
    /// quota alone, so together they may let through up to one quota each.
    UseLocalLimits,
}

/// KEYS[1]: the key. ARGV[1]: the emission interval, µs. ARGV[2]: the burst.
/// Returns {allowed, remaining, µs until more quota (allowed) or until allowed (refused)}.
const GCRA: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tolerance = interval * (burst - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, 0, allow_at - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
local slack = now + tolerance - tat
return {1, math.floor(slack / interval), interval - (slack % interval)}
"#;

/// Rate limits counted in Redis, shared by every instance.
pub struct RedisRateStore {
    redis: Redis,
    script: Script,
    when_unreachable: WhenUnreachable,
    local: MemoryRateStore,
}

impl std::fmt::Debug for RedisRateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateStore")
            .field("redis", &self.redis)
            .field("when_unreachable", &self.when_unreachable)
            .finish_non_exhaustive()
    }
}

impl RedisRateStore {
    pub(crate) fn new(redis: Redis, when_unreachable: WhenUnreachable) -> Self {
        RedisRateStore {
            redis,
            script: Script::new(GCRA),
            when_unreachable,
            local: MemoryRateStore::new(),
        }
    }

    fn fallback(&self) -> &'static str {
        match self.when_unreachable {
            WhenUnreachable::Refuse => "rate-limited requests are refused (503) until it returns",
            WhenUnreachable::UseLocalLimits => {
                "each instance counts rate limits in its own memory until it returns"
            }
        }
    }

    async fn check_in_redis(&self, request: RateRequest<'_>) -> Result<RateDecision, String> {
        let identity = match request.identity {
            RateIdentity::Id(id) => format!("id:{id}"),
            RateIdentity::Ip(ip) => format!("ip:{ip}"),
            RateIdentity::Global => "global".to_owned(),
        };
        let key = self.redis.key(&["rl", request.quota, &identity]);
        let interval = u64::try_from(request.rate.replenish_interval().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut connection = self.redis.connection();
        let mut invocation = self.script.key(key);
        invocation.arg(interval).arg(request.rate.burst());
        let (allowed, remaining, micros): (u8, u64, u64) = self
            .redis
            .call(
                "rate limit",
                self.fallback(),
                invocation.invoke_async(&mut connection),
            )
            .await?;
        let time = std::time::Duration::from_micros(micros);
        Ok(if allowed == 1 {
            RateDecision::Allowed {
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                reset: time,
            }
        } else {
            RateDecision::Limited { retry_after: time }
        })
    }
}

impl RateStore for RedisRateStore {
    fn attach_alerts(&self, alerts: crate::alert::AlertHandle) {
        self.redis.attach_alerts(alerts);
    }

    fn check<'a>(&'a self, request: RateRequest<'a>) -> RateFuture<'a> {
        Box::pin(async move {
            match self.check_in_redis(request).await {
                Ok(decision) => Ok(decision),
                Err(error) => match self.when_unreachable {
                    WhenUnreachable::Refuse => Err(RateStoreError(error)),
                    WhenUnreachable::UseLocalLimits => Ok(self.local.check_now(request)),
                },
            }
        })
    }
}
