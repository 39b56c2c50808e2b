-- Push a payload of campanile's format outside the schedule (`clock
-- trigger`), watch it for `late` as `enqueue.lua` does a tick's, and
-- record it in the job's tick log.
-- KEYS[1]  the queue's pending list
-- KEYS[2]  the queue's waiting set (payload id, scored by its start deadline)
-- KEYS[3]  the queue's stats hash
-- KEYS[4]  the job's tick log
-- ARGV[1]  payload JSON; ARGV[2] its id; ARGV[3] its start deadline (Unix
--          ms), or "" not to watch it; ARGV[4] the most members the waiting
--          set holds (past that the push is not watched, and counted as
--          "<job>:unwatched");
-- ARGV[5]  the job; ARGV[6] the tick log entry; ARGV[7] the most entries
--          the tick log keeps
-- Returns  1 if watched, else 0
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[4], ARGV[6])
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[7]) - 1)
if ARGV[3] == '' then
  return 0
end
if redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
redis.call('HINCRBY', KEYS[3], ARGV[5] .. ':unwatched', 1)
return 0
