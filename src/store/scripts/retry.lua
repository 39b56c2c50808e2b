-- Schedule a failed run's next attempt: take the payload off the worker's
-- in-progress list, add the next attempt's payload to the retry set, append
-- the failed run to the history, and keep the job's in-flight marker alive
-- until the retry can have finished. The run leaves the worker's busy
-- hash, and counts as processed and failed (see minutes.lua).
--
-- KEYS[1]  the worker's in-progress list
-- KEYS[2]  the queue's retry set
-- KEYS[3]  the job's history list
-- KEYS[4]  the queue's in-flight hash (job -> "<payload id>|<expiry ms>")
-- ARGV[1]  the payload exactly as taken
-- ARGV[2]  the next attempt's payload; ARGV[3] when it is due (Unix ms)
-- ARGV[4]  history entry JSON; ARGV[5] history cap
-- ARGV[6]  payload id; ARGV[7] how long from now (Redis time) the marker
--          lasts, in ms; ARGV[8] the job
-- KEYS[5]  the worker's busy hash; KEYS[6] the queue's per-minute counters
-- Returns  1 if the payload was still in progress, else 0 (then nothing is
--          recorded or scheduled: whoever recovered it owns it, or this
--          retry already ran and its reply was lost)
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[6])
if removed == 1 then
  count_minute(KEYS[6], 1, 1)
  redis.call('LPUSH', KEYS[3], ARGV[4])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  local marker = redis.call('HGET', KEYS[4], ARGV[8])
  if marker and string.match(marker, '^(.*)|') == ARGV[6] then
    local t = redis.call('TIME')
    local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[7])
    redis.call('HSET', KEYS[4], ARGV[8], ARGV[6] .. '|' .. string.format('%d', expiry))
  end
end
return removed
