-- Move dead letters back onto the pending list.
-- KEYS[1]  the queue's dead-letter list; KEYS[2] its pending list
-- KEYS[3]  the queue's dead-letter counts hash (see dead_count.lua)
-- ARGV     pairs: the dead letter exactly as stored, the payload to push
-- Returns  how many were moved (a letter already gone is skipped)
local moved = 0
for i = 1, #ARGV, 2 do
  if remove_dead(KEYS[1], KEYS[3], ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i + 1])
    moved = moved + 1
  end
end
return moved
