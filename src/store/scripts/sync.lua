-- Load the tick state of one queue's jobs when a clock starts leading.
--
-- A job with no state, or whose schedule fingerprint changed, starts from
-- now: its state becomes "<now>|<fingerprint>", so a clock that crashes
-- before the job's first tick still catches that tick up after a restart.
--
-- KEYS[1]  ticks hash of the queue
-- ARGV[1]  now (Unix seconds); ARGV[2] the caller's leadership term; then
--          pairs: job, fingerprint
-- Returns  per job, two values: its last tick (Unix seconds) and 1 if it
--          started fresh now, else 0; then the queue's write sequence
--          ("__seq", bumped), which the caller passes to enqueue.lua; or an
--          empty array if a leader with a newer term has written here (the
--          caller no longer leads)
local now = ARGV[1]
local term = tonumber(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[1], '__term') or '0')
if term < current then
  return {}
end
redis.call('HSET', KEYS[1], '__term', term)
local out = {}
for i = 3, #ARGV, 2 do
  local job, fp = ARGV[i], ARGV[i + 1]
  local state = redis.call('HGET', KEYS[1], job)
  local last, stored_fp
  if state then
    last, stored_fp = string.match(state, '^(-?%d+)|(.*)$')
  end
  if last and stored_fp == fp then
    out[#out + 1] = tonumber(last)
    out[#out + 1] = 0
  else
    redis.call('HSET', KEYS[1], job, now .. '|' .. fp)
    out[#out + 1] = tonumber(now)
    out[#out + 1] = 1
  end
end
out[#out + 1] = redis.call('HINCRBY', KEYS[1], '__seq', 1)
return out
