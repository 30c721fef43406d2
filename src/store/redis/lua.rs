//! The server-side scripts: each runs atomically in one slot.

/// Compare-and-set of the session document plus appending its events, in one step.
pub(super) const COMMIT_LUA: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'doc', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local last = nil
for i = 6, #ARGV, 2 do
  redis.call('XADD', KEYS[2], '0-' .. ARGV[i], 'e', ARGV[i + 1])
  last = ARGV[i]
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if last then redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. last) end
return v + 1
"#;

/// An alert's outcome, written only while the alert exists (it is a hash: `doc` as posted,
/// `status` as decided).
pub(super) const ALERT_STATUS_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSET', KEYS[1], 'status', ARGV[1])
"#;

/// Drops the phone → alert pointer only if it still points at this alert.
pub(super) const UNLINK_PHONE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Marks an alert replaced by a newer one for the same phone, unless it was already decided.
pub(super) const SUPERSEDE_LUA: &str = r#"
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
return redis.call('HSET', KEYS[1], 'status', 'superseded')
"#;

/// Notes the session serving an alert, only while the alert exists (never a key without TTL).
pub(super) const ATTACH_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSET', KEYS[1], 'session', ARGV[1])
"#;
