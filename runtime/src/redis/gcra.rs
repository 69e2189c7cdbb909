//! GCRA in Redis: permits taken from the shared state of a quota, several keys per script
//! call, on the clock of the Redis server (so instances whose clocks disagree still agree
//! on quotas). Keys expire on their own once their state is back to a full burst.

use std::sync::LazyLock;

use ::redis::{ErrorKind, Script, Value};

use super::Redis;
use super::connection::Connection;

/// KEYS: the GCRA states. ARGV, three per key: the emission interval (µs), the burst, and
/// how many permits are wanted. Takes as many as are available, up to the number wanted,
/// and returns three numbers per key: permits granted; permits left after them; µs until
/// one more permit accrues (when some were granted) or until one is available (when none
/// was).
const TAKE: &str = r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local out = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local wanted = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local limit = now + burst * interval
  local available = math.floor((limit - tat) / interval)
  if available <= 0 then
    out[#out + 1] = 0
    out[#out + 1] = 0
    out[#out + 1] = tat - (burst - 1) * interval - now
  else
    local granted = math.min(wanted, available)
    local new_tat = tat + granted * interval
    redis.call('SET', key, string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
    local slack = limit - new_tat
    out[#out + 1] = granted
    out[#out + 1] = math.floor(slack / interval)
    out[#out + 1] = interval - (slack % interval)
  end
end
return out
"#;

static TAKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE));

/// Permits wanted from one quota's shared state.
#[derive(Debug, Clone)]
pub(crate) struct Take {
    pub(crate) key: String,
    pub(crate) interval_micros: u64,
    pub(crate) burst: u32,
    pub(crate) wanted: u32,
}

/// What the shared state gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Permits granted (0: refused).
    pub(crate) granted: u32,
    /// Permits left in the shared state after these.
    pub(crate) remaining: u64,
    /// µs until one more permit accrues (granted), or until one is available (refused).
    pub(crate) micros: u64,
}

/// Takes permits for every take of `takes` (all of one hash slot on a Cluster) in one
/// script call.
pub(crate) async fn take(
    redis: &Redis,
    fallback: &'static str,
    takes: &[&Take],
) -> Result<Vec<Grant>, String> {
    let answer: Vec<i64> = redis
        .call("rate limit", fallback, |mut connection| async move {
            evaluate(&mut connection, takes).await
        })
        .await?;
    if answer.len() != takes.len() * 3 {
        return Err(format!(
            "the rate-limit script answered {} numbers for {} keys",
            answer.len(),
            takes.len()
        ));
    }
    Ok(answer
        .chunks_exact(3)
        .map(|numbers| Grant {
            granted: u32::try_from(numbers[0].max(0)).unwrap_or(u32::MAX),
            remaining: u64::try_from(numbers[1].max(0)).unwrap_or(0),
            micros: u64::try_from(numbers[2].max(0)).unwrap_or(0),
        })
        .collect())
}

/// `EVALSHA`, and `EVAL` where the server does not hold the script yet (which also loads
/// it there: on a Cluster, each node learns it on its first call).
async fn evaluate(
    connection: &mut Connection,
    takes: &[&Take],
) -> Result<Vec<i64>, ::redis::RedisError> {
    let call = |command: &str, script: &str| {
        let mut cmd = ::redis::cmd(command);
        cmd.arg(script).arg(takes.len());
        for take in takes {
            cmd.arg(take.key.as_str());
        }
        for take in takes {
            cmd.arg(take.interval_micros)
                .arg(take.burst)
                .arg(take.wanted);
        }
        cmd
    };
    match call("EVALSHA", TAKE_SCRIPT.get_hash())
        .query_async::<Value>(connection)
        .await
    {
        Err(error) if error.kind() == ErrorKind::NoScriptError => {
            call("EVAL", TAKE).query_async(connection).await
        }
        Err(error) => Err(error),
        Ok(value) => ::redis::from_redis_value(&value),
    }
}
