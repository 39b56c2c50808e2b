-- Load the tick state of one queue's jobs when a clock starts leading.
--
-- A job with no state, or whose schedule fingerprint changed, starts from
-- now: its state becomes "<now>|<fingerprint>", so a clock that crashes
-- before the job's first tick still catches that tick up after a restart.
--
-- A job with no state whose last tick the caller remembers (it led before,
-- and Redis has lost the queue's state since: a restart without
-- persistence, a FLUSHALL) gets that tick back instead, when restoring is
-- on: ARGV[3] "1" on, "0" off, "auto" on if the hash has no "__seq" (which
-- every sync and push writes) when the call starts.
--
-- KEYS[1]  ticks hash of the queue
-- ARGV[1]  now (Unix seconds); ARGV[2] the caller's leadership term;
--          ARGV[3] restoring (see above); then triples: job, fingerprint,
--          remembered last tick (Unix seconds) or ""
-- Returns  per job, two values: its last tick (Unix seconds) and 0 if it
--          was in Redis, 1 if it started fresh now, 2 if it was restored;
--          then 1 if restoring was on, else 0; then the queue's write
--          sequence ("__seq", bumped), which the caller passes to
--          enqueue.lua; or an empty array if a leader with a newer term has
--          written here (the caller no longer leads)
local now = ARGV[1]
local term = tonumber(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[1], '__term') or '0')
if term < current then
  return {}
end
local restoring = ARGV[3] == '1'
if ARGV[3] == 'auto' then
  restoring = redis.call('HEXISTS', KEYS[1], '__seq') == 0
end
redis.call('HSET', KEYS[1], '__term', term)
local out = {}
for i = 4, #ARGV, 3 do
  local job, fp, remembered = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local state = redis.call('HGET', KEYS[1], job)
  local last, stored_fp
  if state then
    last, stored_fp = string.match(state, '^(-?%d+)|(.*)$')
  end
  if last and stored_fp == fp then
    out[#out + 1] = tonumber(last)
    out[#out + 1] = 0
  elseif not state and restoring and remembered ~= '' then
    redis.call('HSET', KEYS[1], job, remembered .. '|' .. fp)
    out[#out + 1] = tonumber(remembered)
    out[#out + 1] = 2
  else
    redis.call('HSET', KEYS[1], job, now .. '|' .. fp)
    out[#out + 1] = tonumber(now)
    out[#out + 1] = 1
  end
end
out[#out + 1] = restoring and 1 or 0
out[#out + 1] = redis.call('HINCRBY', KEYS[1], '__seq', 1)
return out
