-- Take the leader lease if nobody holds it, or extend it if this clock
-- already does (a leader that lost its connection for a moment resumes).
-- KEYS[1]  leader key
-- ARGV[1]  this clock's id; ARGV[2] lease TTL in ms
-- Returns  1 if this clock now holds the lease, else 0
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
