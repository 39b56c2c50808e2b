-- Dead-letter a taken payload too large to send back: it is found in the
-- worker's in-progress list by its size and first bytes, so the worker
-- need not hold or resend all of it. Two such payloads alike in both give
-- the same dead letter, so which one goes first does not matter.
--
-- KEYS[1]  the worker's in-progress list
-- KEYS[2]  the queue's dead-letter list
-- KEYS[3]  the queue's per-minute counters: a payload dropped counts as
--          processed and failed (see minutes.lua)
-- KEYS[4]  the queue's dead-letter counts hash (see dead_count.lua)
-- ARGV[1]  the payload's size in bytes; ARGV[2] its first bytes
-- ARGV[3]  dead letter JSON; ARGV[4] dead-letter cap
-- Returns  1 if it was dead-lettered, 0 if it was no longer in progress
--          (then nothing changes)
local size = tonumber(ARGV[1])
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if #item == size and string.sub(item, 1, #ARGV[2]) == ARGV[2] then
    redis.call('LREM', KEYS[1], 1, item)
    add_dead(KEYS[2], KEYS[4], ARGV[3], tonumber(ARGV[4]))
    count_minute(KEYS[3], 1, 1)
    return 1
  end
end
return 0
