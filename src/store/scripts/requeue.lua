-- Put a worker's in-progress payloads back: after its lease lapsed (it died),
-- or by the worker itself when it stops. Each payload is replaced by the
-- version computed by the caller (attempt incremented after a lost run, or a
-- dead letter when attempts are exhausted). A payload no longer in the list
-- has been handled by someone else and is skipped, so concurrent recoveries
-- never double anything.
--
-- A payload put back leaves the worker's busy hash; once the worker holds
-- none, or its lease has lapsed, the hash goes. A lapsed worker's payloads
-- are runs lost with it: each counts as processed and failed (see
-- minutes.lua), as a failed run's retry or dead letter does. A live
-- worker's own give-backs (on stopping) ran nothing to an end and count
-- nothing.
--
-- KEYS[1]  the queue's worker set
-- KEYS[2]  the worker's lease
-- KEYS[3]  the worker's in-progress list
-- KEYS[4]  the queue's pending list
-- KEYS[5]  the queue's dead-letter list
-- KEYS[6]  the worker's busy hash; KEYS[7] the queue's per-minute counters
-- KEYS[8]  the queue's dead-letter counts hash (see dead_count.lua)
-- ARGV[1]  worker id; ARGV[2] "1" to act only if the lease has lapsed
-- ARGV[3]  dead-letter cap; then triples: payload as taken, "pending" or
--          "dead", the replacement
-- Returns  the number of payloads moved, or -1 if the worker is alive
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
local moved = 0
for i = 4, #ARGV, 3 do
  if redis.call('LREM', KEYS[3], 1, ARGV[i]) == 1 then
    local id = payload_id(ARGV[i])
    if id then
      redis.call('HDEL', KEYS[6], id)
    end
    if ARGV[i + 1] == 'dead' then
      add_dead(KEYS[5], KEYS[8], ARGV[i + 2], tonumber(ARGV[3]))
    else
      -- The right end is taken next: a recovered payload has waited enough.
      redis.call('RPUSH', KEYS[4], ARGV[i + 2])
    end
    moved = moved + 1
  end
end
if ARGV[2] == '1' and moved > 0 then
  count_minute(KEYS[7], moved, moved)
end
if ARGV[2] == '1' or redis.call('LLEN', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[6])
end
if redis.call('LLEN', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[1], ARGV[1])
end
return moved
