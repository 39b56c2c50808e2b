-- Move dead letters back onto the pending list.
-- KEYS[1]  the queue's dead-letter list; KEYS[2] its pending list
-- ARGV     pairs: the dead letter exactly as stored, the payload to push
-- Returns  how many were moved (a letter already gone is skipped)
local moved = 0
for i = 1, #ARGV, 2 do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i + 1])
    moved = moved + 1
  end
end
return moved
