-- A run starts: its payload stops waiting to start (it leaves the waiting
-- and late sets, so it never goes, or stays, late), and the job's in-flight
-- marker, if it holds this payload, is extended while the run lasts.
-- One call at the start of every run, which the worker makes anyway.
-- KEYS[1]  the queue's in-flight hash (job -> "<payload id>|<expiry ms>")
-- KEYS[2]  the queue's waiting set; KEYS[3] its late set (members: ids)
-- ARGV[1]  job; ARGV[2] payload id (only a marker holding it is extended);
-- ARGV[3]  how long from now (Redis time) it lasts, in ms
-- Returns  1 if the marker was extended, else 0
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
local marker = redis.call('HGET', KEYS[1], ARGV[1])
if marker and string.match(marker, '^(.*)|') == ARGV[2] then
  local t = redis.call('TIME')
  local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%d', expiry))
  return 1
end
return 0
