-- Enqueue the due ticks of one queue, each at most once.
--
-- Recording a tick and pushing its payload happen in this one script, so
-- whatever crashes, retries or extra clocks occur, a tick is pushed at most
-- once: a tick is pushed only if it is later than the job's recorded last
-- tick, and recording it is part of the same atomic step.
--
-- KEYS[1]    pending list of the queue
-- KEYS[2]    ticks hash of the queue (job -> "<tick>|<fingerprint>")
-- KEYS[3]    stats hash of the queue
-- KEYS[4]    paused hash of the queue (job -> paused since)
-- KEYS[4+i]  in-flight marker of tick i's job
-- ARGV[1]    number of ticks n; ARGV[2] the caller's leadership term; then
--            7 values per tick i, from 3 + 7*(i-1):
--            job, tick (Unix seconds), schedule fingerprint,
--            action ("push": enqueue it; "miss": record it, and the missed
--            ticks before it, as missed without enqueueing), payload JSON
--            (for "miss": the number of missed ticks),
--            in-flight TTL in ms ("0": overlap allowed, no marker),
--            payload id (the in-flight marker's value)
-- Returns    n statuses: "pushed", "duplicate" (already handled),
--            "overlap" (skipped: the job's previous payload is in flight),
--            "paused" (skipped: the job is paused),
--            "fenced" (refused: a leader with a newer term has written here;
--            every tick of the call is refused)
--            "missed" (recorded as missed)
local n = tonumber(ARGV[1])
local term = tonumber(ARGV[2])
local out = {}
-- Fencing: the ticks hash remembers the newest leadership term that wrote
-- to it (field "__term", which no job name can take). A leader that was
-- frozen past its lease and wakes up cannot push anything.
local current = tonumber(redis.call('HGET', KEYS[2], '__term') or '0')
if term < current then
  for i = 1, n do out[i] = 'fenced' end
  return out
end
if term > current then
  redis.call('HSET', KEYS[2], '__term', term)
end
for i = 1, n do
  local base = 3 + 7 * (i - 1)
  local job, tick, fp = ARGV[base], tonumber(ARGV[base + 1]), ARGV[base + 2]
  local action, payload, ttl = ARGV[base + 3], ARGV[base + 4], tonumber(ARGV[base + 5])
  local state = redis.call('HGET', KEYS[2], job)
  local last = state and tonumber(string.match(state, '^(-?%d+)'))
  if last and last >= tick then
    out[i] = 'duplicate'
  else
    redis.call('HSET', KEYS[2], job, ARGV[base + 1] .. '|' .. fp)
    if action == 'miss' then
      redis.call('HINCRBY', KEYS[3], job .. ':missed', tonumber(payload))
      out[i] = 'missed'
    elseif redis.call('HEXISTS', KEYS[4], job) == 1 then
      redis.call('HINCRBY', KEYS[3], job .. ':paused', 1)
      out[i] = 'paused'
    elseif ttl > 0 and redis.call('EXISTS', KEYS[4 + i]) == 1 then
      redis.call('HINCRBY', KEYS[3], job .. ':overlap', 1)
      out[i] = 'overlap'
    else
      redis.call('LPUSH', KEYS[1], payload)
      if ttl > 0 then
        redis.call('SET', KEYS[4 + i], ARGV[base + 6], 'PX', ttl)
      end
      redis.call('HINCRBY', KEYS[3], job .. ':enqueued', 1)
      out[i] = 'pushed'
    end
  end
end
return out
