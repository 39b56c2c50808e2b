-- Move retries that are due onto the pending list.
-- KEYS[1]  the queue's retry set; KEYS[2] its pending list
-- ARGV[1]  now (Unix ms); ARGV[2] at most this many
-- Returns  the number moved
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, payload in ipairs(due) do
  redis.call('ZREM', KEYS[1], payload)
  redis.call('LPUSH', KEYS[2], payload)
end
return #due
