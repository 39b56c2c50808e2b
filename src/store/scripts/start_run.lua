-- A run starts: its payload stops waiting to start (it leaves the waiting
-- and late sets, so it never goes, or stays, late), the job's in-flight
-- marker, if it holds this payload, is extended while the run lasts, and
-- the worker's busy hash records since when the run goes on.
-- One call at the start of every run, which the worker makes anyway.
--
-- The busy hash only ever names payloads in the worker's in-progress list:
-- a start that lands after its run was finished (the worker sends it while
-- the command starts) records nothing, and each start drops the fields of
-- payloads no longer in progress. So it is bounded by the worker's
-- concurrency, whatever was lost on the way.
--
-- KEYS[1]  the queue's in-flight hash (job -> "<payload id>|<expiry ms>")
-- KEYS[2]  the queue's waiting set; KEYS[3] its late set (members: ids)
-- KEYS[4]  the worker's busy hash (payload id -> "<since ms>|<job>")
-- KEYS[5]  the worker's in-progress list
-- ARGV[1]  job; ARGV[2] payload id (only a marker holding it is extended);
-- ARGV[3]  how long from now (Redis time) it lasts, in ms
-- Returns  1 if the marker was extended, else 0
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local taken = {}
for _, raw in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do
  local id = payload_id(raw)
  if id then
    taken[id] = true
  end
end
if taken[ARGV[2]] then
  redis.call('HSET', KEYS[4], ARGV[2], string.format('%d', now) .. '|' .. ARGV[1])
end
for _, id in ipairs(redis.call('HKEYS', KEYS[4])) do
  if not taken[id] then
    redis.call('HDEL', KEYS[4], id)
  end
end

local marker = redis.call('HGET', KEYS[1], ARGV[1])
if marker and string.match(marker, '^(.*)|') == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%d', now + tonumber(ARGV[3])))
  return 1
end
return 0
