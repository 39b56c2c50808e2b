-- Record a clock in the registry, stamped with Redis's own time, so that
-- whether a clock is alive never depends on the clock's system time.
-- KEYS[1]  registry hash
-- ARGV[1]  the clock's id; ARGV[2] its registry entry, a JSON object
-- Returns  the stamp, Unix ms on Redis's clock
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local entry = string.sub(ARGV[2], 1, -2) .. ',"redis_seen_ms":' .. string.format('%d', ms) .. '}'
redis.call('HSET', KEYS[1], ARGV[1], entry)
return ms
