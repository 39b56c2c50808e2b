-- Take the leader lease if nobody holds it, or extend it if this clock
-- already does (a leader that lost its connection for a moment resumes).
-- A new acquisition is logged in the same step, on Redis's clock, so the
-- log of leadership changes cannot miss one or hold one that did not
-- happen; the log shares the lease's Cluster slot (its hash tag).
-- KEYS[1]  leader key; KEYS[2] the log of acquisitions (newest first)
-- ARGV[1]  this clock's id; ARGV[2] lease TTL in ms; ARGV[3] log cap
-- Returns  1 if this clock now holds the lease, else 0
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  local now = redis.call('TIME')
  local ms = now[1] * 1000 + math.floor(now[2] / 1000)
  local entry = cjson.encode({clock = ARGV[1], via = 'acquired'})
  entry = string.sub(entry, 1, -2) .. ',"at_ms":' .. string.format('%d', ms) .. '}'
  redis.call('LPUSH', KEYS[2], entry)
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
  return 1
end
return 0
