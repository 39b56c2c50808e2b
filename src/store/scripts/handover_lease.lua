-- Pass the leader lease to another clock (one with a newer config), if this
-- clock holds it. The receiver finds the lease in its name on its next try.
-- The handover is logged in the same step, as acquire_lease.lua logs an
-- acquisition.
-- KEYS[1]  leader key; KEYS[2] the log of acquisitions (newest first)
-- ARGV[1]  this clock's id; ARGV[2] the receiver's id; ARGV[3] TTL in ms;
--          ARGV[4] log cap
-- Returns  1 if handed over, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  local now = redis.call('TIME')
  local ms = now[1] * 1000 + math.floor(now[2] / 1000)
  local entry = cjson.encode({clock = ARGV[2], via = 'handover', from = ARGV[1]})
  entry = string.sub(entry, 1, -2) .. ',"at_ms":' .. string.format('%d', ms) .. '}'
  redis.call('LPUSH', KEYS[2], entry)
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
  return 1
end
return 0
