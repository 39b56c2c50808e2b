-- Record the end of a run: take the payload off the worker's in-progress
-- list, append the history entry, clear the job's in-flight marker, and
-- (for a final failure) add the dead letter. One atomic step, so a run is
-- never both finished and still in progress.
--
-- With ARGV[7] = "1" it also takes the next payload, as `BLMOVE` would but
-- without blocking: a busy worker finishes one run and starts the next in
-- one round trip.
--
-- KEYS[1]  the worker's in-progress list
-- KEYS[2]  the job's history list
-- KEYS[3]  the queue's in-flight hash (job -> "<payload id>|<expiry ms>")
-- KEYS[4]  the queue's dead-letter list
-- KEYS[5]  the queue's pending list
-- KEYS[6]  the queue's waiting set; KEYS[7] its late set (members: ids)
-- KEYS[8]  the worker's busy hash; KEYS[9] the queue's per-minute counters
-- KEYS[10] the queue's dead-letter counts hash (see dead_count.lua)
-- ARGV[1]  the payload exactly as taken
-- ARGV[2]  history entry JSON ("" for none); ARGV[3] history cap
-- ARGV[4]  payload id (the marker is cleared only if it still holds it)
-- ARGV[5]  dead letter JSON ("" for none); ARGV[6] dead-letter cap
-- ARGV[7]  "1" to take the next payload into KEYS[1], else "0"
-- ARGV[8]  the job ("" for a payload that named none)
-- Returns  {1 if the payload was still in progress, else 0, the job's
--          previous newest history entry or false, the next payload taken
--          or false}
-- A payload no longer in progress was recovered by another worker, or this
-- finish already ran (a retry after a lost reply): nothing is recorded, no
-- marker cleared, nothing counted, so a repeated finish changes nothing.
-- The take still happens, and the run leaves the worker's busy hash either
-- way: it is over.
--
-- Counted (see minutes.lua): every finish as processed, one with a dead
-- letter (a final failure, or a payload that could not run) as failed.
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if ARGV[4] ~= '' then
  redis.call('HDEL', KEYS[8], ARGV[4])
end
local previous = redis.call('LINDEX', KEYS[2], 0)
local next = false
if ARGV[7] == '1' then
  next = redis.call('LMOVE', KEYS[5], KEYS[1], 'RIGHT', 'LEFT')
end
if removed == 0 then
  return {removed, previous, next}
end
-- A payload that ends without having started (dead-lettered unrun: its job
-- left the config) is no longer waiting to start, nor late.
if ARGV[4] ~= '' then
  redis.call('ZREM', KEYS[6], ARGV[4])
  redis.call('ZREM', KEYS[7], ARGV[4])
end
if ARGV[2] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
end
if ARGV[8] ~= '' then
  local marker = redis.call('HGET', KEYS[3], ARGV[8])
  if marker and string.match(marker, '^(.*)|') == ARGV[4] then
    redis.call('HDEL', KEYS[3], ARGV[8])
  end
end
if ARGV[5] ~= '' then
  add_dead(KEYS[4], KEYS[10], ARGV[5], tonumber(ARGV[6]))
  count_minute(KEYS[9], 1, 1)
else
  count_minute(KEYS[9], 1, 0)
end
return {removed, previous, next}
