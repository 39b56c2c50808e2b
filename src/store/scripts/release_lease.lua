-- Give up the leader lease if this clock holds it, so a standby takes over
-- at once instead of waiting for it to expire.
-- KEYS[1]  leader key
-- ARGV[1]  this clock's id
-- Returns  1 if released, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
