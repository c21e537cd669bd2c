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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use oauth_core::store::{LeaseId, StoreReply, StoreRequest};
    use proptest::prelude::*;
    use redis::Value;

    use super::reply;

    fn requests() -> Vec<StoreRequest> {
        let lease = || LeaseId::from_text("00ff");
        vec![
            StoreRequest::Read,
            StoreRequest::Acquire {
                lease: lease(),
                ttl: Duration::from_secs(1),
            },
            StoreRequest::Commit {
                lease: lease(),
                expected: 1,
                version: 2,
                sealed: vec![1],
            },
            StoreRequest::Put {
                at_least: 1,
                sealed: vec![1],
            },
            StoreRequest::Release { lease: lease() },
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::BulkString),
            "[0-9]{0,21}".prop_map(|digits| Value::BulkString(digits.into_bytes())),
            ".{0,12}".prop_map(Value::SimpleString),
            Just(Value::Okay),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            proptest::collection::vec(inner, 0..5).prop_map(Value::Array)
        })
    }

    proptest! {
        /// Whatever a script (or something posing as Redis) answers: a reply of the step's
        /// kind, or a typed protocol error naming the step, never a panic.
        #[test]
        fn any_answer_is_a_reply_or_a_typed_error(value in value()) {
            for request in requests() {
                match reply(&request, value.clone()) {
                    Ok(StoreReply::Record(_)) => prop_assert_eq!(request.name(), "read"),
                    Ok(StoreReply::Acquired(_) | StoreReply::Busy(_)) => {
                        prop_assert_eq!(request.name(), "acquire");
                    }
                    Ok(_) => {}
                    Err(error) => prop_assert!(error.to_string().contains(request.name())),
                }
            }
        }
    }

    #[test]
    fn the_scripts_answers_are_read_as_their_replies() {
        let answer = |status: i64, version: &str, sealed: &[u8]| {
            Value::Array(vec![
                Value::Int(status),
                Value::BulkString(version.as_bytes().to_vec()),
                Value::BulkString(sealed.to_vec()),
            ])
        };
        let [read, acquire, commit, put, release] = requests().try_into().expect("five");
        let record = |version| {
            Some(oauth_core::store::StoreRecord {
                version,
                sealed: vec![9, 9],
            })
        };
        assert_eq!(
            reply(&read, answer(1, "", b"")),
            Ok(StoreReply::Record(None))
        );
        assert_eq!(
            reply(&acquire, answer(1, "7", &[9, 9])),
            Ok(StoreReply::Acquired(record(7)))
        );
        assert_eq!(
            reply(&acquire, answer(0, "7", &[9, 9])),
            Ok(StoreReply::Busy(record(7)))
        );
        assert_eq!(
            reply(&commit, answer(1, "2", b"")),
            Ok(StoreReply::Committed { version: 2 })
        );
        assert_eq!(
            reply(&commit, answer(0, "7", &[9, 9])),
            Ok(StoreReply::Conflict(record(7)))
        );
        assert_eq!(
            reply(&put, answer(1, "8", b"")),
            Ok(StoreReply::Committed { version: 8 })
        );
        assert_eq!(
            reply(&release, answer(1, "", b"")),
            Ok(StoreReply::Released)
        );
        assert!(
            reply(&commit, answer(1, "", b"")).is_err(),
            "committed without a version"
        );
    }
}
