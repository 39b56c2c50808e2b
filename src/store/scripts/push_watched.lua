-- Push a payload of campanile's format outside the schedule (`clock
-- trigger`) and watch it for `late`, as `enqueue.lua` does a tick's.
-- KEYS[1]  the queue's pending list
-- KEYS[2]  the queue's waiting set (payload id, scored by its start deadline)
-- KEYS[3]  the queue's stats hash
-- ARGV[1]  payload JSON; ARGV[2] its id; ARGV[3] its start deadline (Unix
--          ms); ARGV[4] the most members the waiting set holds (past that
--          the push is not watched, and counted as "<job>:unwatched");
-- ARGV[5]  the job
-- Returns  1 if watched, else 0
redis.call('LPUSH', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
redis.call('HINCRBY', KEYS[3], ARGV[5] .. ':unwatched', 1)
return 0
