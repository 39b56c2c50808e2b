-- Undo a take: the payload leaves the worker's in-progress list for the
-- oldest end of the pending list, where it was. A payload no longer in the
-- in-progress list (recovered by another worker meanwhile) is not pushed
-- again.
--
-- KEYS[1]  the worker's in-progress list
-- KEYS[2]  the queue's pending list
-- ARGV[1]  the payload exactly as taken
-- Returns  1 if it was given back, 0 if it was no longer in progress
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
