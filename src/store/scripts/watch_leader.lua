-- Record what one watcher saw of the leader lease, so that every worker and
-- dashboard together report each stretch without a leader once. The caller
-- reads the leader key itself and passes what it saw: the monitor hash is
-- outside every queue's hash tag, so this script touches that key only
-- (Redis Cluster). Times are Redis's, so watchers' clocks may disagree.
-- KEYS[1]  monitor hash: no_leader_since (Unix ms, Redis time), no_leader_sent ("1")
-- ARGV[1]  "absent" or "present": whether the caller found the leader key
-- ARGV[2]  no_leader_after in ms; ARGV[3] how long the state outlives the
--          last watcher's call, in ms
-- Returns  {verdict, ms without a leader so far (0 if there is one)}:
--          "no_leader" to the one call that finds the episode ≥ ARGV[2]
--          old and not yet reported; "leader_back" to the one call that
--          finds a leader after it was reported; else "absent" or "present"
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local since = tonumber(redis.call('HGET', KEYS[1], 'no_leader_since'))
if ARGV[1] == 'present' then
  if not since then
    return {'present', 0}
  end
  local sent = redis.call('HGET', KEYS[1], 'no_leader_sent')
  redis.call('DEL', KEYS[1])
  if sent == '1' then
    return {'leader_back', ms - since}
  end
  return {'present', 0}
end
if not since then
  since = ms
  redis.call('HSET', KEYS[1], 'no_leader_since', string.format('%d', ms))
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local elapsed = ms - since
if elapsed >= tonumber(ARGV[2]) and redis.call('HSETNX', KEYS[1], 'no_leader_sent', '1') == 1 then
  return {'no_leader', elapsed}
end
return {'absent', elapsed}
