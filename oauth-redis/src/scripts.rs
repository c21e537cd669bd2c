//! The store's steps as Lua scripts, each atomic on the server. Every script answers
//! `{status, version, sealed}` (empty strings for an absent record), parsed in one place.

use std::sync::LazyLock;

use oauth_core::store::{StoreError, StoreRecord, StoreReply, StoreRequest};
use redis::{Script, ScriptInvocation, Value};

use crate::Keys;

/// KEYS: record.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local r = redis.call('HMGET', KEYS[1], 'v', 't')
return {1, r[1] or '', r[2] or ''}",
    )
});

/// KEYS: record, lease. ARGV: owner, ttl in ms. Status 1: taken (or already the owner's: a
/// retry after a lost reply); 0: another holds it.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local taken = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
if not taken and redis.call('GET', KEYS[2]) == ARGV[1] then taken = true end
local r = redis.call('HMGET', KEYS[1], 'v', 't')
return {taken and 1 or 0, r[1] or '', r[2] or ''}",
    )
});

/// KEYS: record, lease. ARGV: owner, expected version, new version, sealed, channel.
/// Status 1: stored; 0: the record changed (it is returned).
static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[2]) then
  local r = redis.call('HMGET', KEYS[1], 'v', 't')
  return {0, r[1] or '', r[2] or ''}
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 't', ARGV[4])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[5], ARGV[3])
return {1, ARGV[3], ''}",
    )
});

/// KEYS: record. ARGV: at least, sealed, channel. Stores above both versions.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local version = tostring(math.max(current, tonumber(ARGV[1])) + 1)
redis.call('HSET', KEYS[1], 'v', version, 't', ARGV[2])
redis.call('PUBLISH', ARGV[3], version)
return {1, version, ''}",
    )
});

/// KEYS: lease. ARGV: owner.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return {1, '', ''}",
    )
});

/// The script call for `request`; `None` for a watch (not a script).
pub(crate) fn invocation(keys: &Keys, request: &StoreRequest) -> Option<ScriptInvocation<'static>> {
    Some(match request {
        StoreRequest::Read => {
            let mut call = READ.prepare_invoke();
            call.key(&keys.record);
            call
        }
        StoreRequest::Acquire { lease, ttl } => {
            let mut call = ACQUIRE.prepare_invoke();
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            call.key(&keys.record)
                .key(&keys.lease)
                .arg(lease.as_str())
                .arg(millis);
            call
        }
        StoreRequest::Commit {
            lease,
            expected,
            version,
            sealed,
        } => {
            let mut call = COMMIT.prepare_invoke();
            call.key(&keys.record)
                .key(&keys.lease)
                .arg(lease.as_str())
                .arg(*expected)
                .arg(*version)
                .arg(sealed.as_slice())
                .arg(&keys.channel);
            call
        }
        StoreRequest::Put { at_least, sealed } => {
            let mut call = PUT.prepare_invoke();
            call.key(&keys.record)
                .arg(*at_least)
                .arg(sealed.as_slice())
                .arg(&keys.channel);
            call
        }
        StoreRequest::Release { lease } => {
            let mut call = RELEASE.prepare_invoke();
            call.key(&keys.lease).arg(lease.as_str());
            call
        }
        _ => return None,
    })
}

/// The version a read's reply names (0: no record).
pub(crate) fn version_of(reply: &StoreReply) -> u64 {
    match reply {
        StoreReply::Record(Some(record)) => record.version,
        _ => 0,
    }
}

/// A script's answer as the reply `request` expects.
pub(crate) fn reply(request: &StoreRequest, value: Value) -> Result<StoreReply, StoreError> {
    let malformed = || StoreError::Protocol {
        request: request.name(),
        reply: "a malformed script answer".into(),
    };
    let (status, version, sealed): (i64, Vec<u8>, Vec<u8>) =
        redis::from_redis_value(value).map_err(|_| malformed())?;
    let version: Option<u64> = match version.as_slice() {
        [] => None,
        digits => Some(
            std::str::from_utf8(digits)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(malformed)?,
        ),
    };
    let record = version.map(|version| StoreRecord { version, sealed });
    Ok(match (request, status) {
        (StoreRequest::Read, _) => StoreReply::Record(record),
        (StoreRequest::Acquire { .. }, 1) => StoreReply::Acquired(record),
        (StoreRequest::Acquire { .. }, _) => StoreReply::Busy(record),
        (StoreRequest::Commit { .. } | StoreRequest::Put { .. }, 1) => StoreReply::Committed {
            version: record.ok_or_else(malformed)?.version,
        },
        (StoreRequest::Commit { .. }, _) => StoreReply::Conflict(record),
        (StoreRequest::Release { .. }, _) => StoreReply::Released,
        _ => return Err(malformed()),
    })
}
