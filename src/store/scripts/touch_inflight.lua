-- Extend a job's in-flight marker while its payload runs.
-- KEYS[1]  the queue's in-flight hash (job -> "<payload id>|<expiry ms>")
-- ARGV[1]  job; ARGV[2] payload id (only a marker holding it is extended);
-- ARGV[3]  how long from now (Redis time) it lasts, in ms
-- Returns  1 if extended, else 0
local marker = redis.call('HGET', KEYS[1], ARGV[1])
if marker and string.match(marker, '^(.*)|') == ARGV[2] then
  local t = redis.call('TIME')
  local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%d', expiry))
  return 1
end
return 0
