-- Pass the leader lease to another clock (one with a newer config), if this
-- clock holds it. The receiver finds the lease in its name on its next try.
-- KEYS[1]  leader key
-- ARGV[1]  this clock's id; ARGV[2] the receiver's id; ARGV[3] TTL in ms
-- Returns  1 if handed over, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
