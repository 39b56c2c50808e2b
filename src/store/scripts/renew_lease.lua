-- Extend the leader lease if this clock still holds it.
-- KEYS[1]  leader key
-- ARGV[1]  this clock's id; ARGV[2] lease TTL in ms
-- Returns  1 if renewed, 0 if another clock holds it (or nobody does)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
