-- Delete dead letters, keeping the counts (see dead_count.lua).
-- KEYS[1]  the queue's dead-letter list
-- KEYS[2]  the queue's dead-letter counts hash
-- ARGV     the dead letters exactly as stored
-- Returns  how many were deleted (a letter already gone is skipped)
local deleted = 0
for i = 1, #ARGV do
  deleted = deleted + remove_dead(KEYS[1], KEYS[2], ARGV[i])
end
return deleted
