-- Extend a job's in-flight marker while its payload runs.
-- KEYS[1]  the job's in-flight marker
-- ARGV[1]  payload id (only a marker holding it is extended); ARGV[2] TTL ms
-- Returns  1 if extended, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
