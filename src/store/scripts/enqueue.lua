-- Enqueue the due ticks of one queue, each at most once.
--
-- Recording a tick and pushing its payload happen in this one script, so
-- whatever crashes, retries or extra clocks occur, a tick is pushed at most
-- once: a tick is pushed only if it is later than the job's recorded last
-- tick, and recording it is part of the same atomic step.
--
-- The list a tick is pushed to is the queue's pending list for campanile's
-- own payloads, or another tool's list (Sidekiq's, Resque's, any list) for
-- the other formats; the tick is recorded in the queue's ticks hash either
-- way, in the same atomic step.
--
-- KEYS[1]    ticks hash of the queue (job -> "<tick>|<fingerprint>")
-- KEYS[2]    stats hash of the queue
-- KEYS[3]    paused hash of the queue (job -> paused since)
-- then 3 keys per tick i, from 4 + 3*(i-1):
--            in-flight marker of the tick's job,
--            the list to push to,
--            the set to add the queue's name to (Sidekiq's and Resque's
--            `queues`; the list again when there is none)
-- ARGV[1]    number of ticks n; ARGV[2] the caller's leadership term;
-- ARGV[3]    the write sequence (field "__seq") the caller last saw here;
--            then 9 values per tick i, from 4 + 9*(i-1):
--            job, tick (Unix seconds), schedule fingerprint,
--            action ("push": enqueue it; "miss": record it, and the missed
--            ticks before it, as missed without enqueueing), payload JSON
--            (for "miss": the number of missed ticks),
--            in-flight TTL in ms ("0": overlap allowed, no marker),
--            payload id (the in-flight marker's value),
--            the end to push at ("left": LPUSH; "right": RPUSH, Resque's),
--            the member to add to the set ("": none)
-- Returns    n statuses: "pushed", "duplicate" (already handled),
--            "overlap" (skipped: the job's previous payload is in flight),
--            "paused" (skipped: the job is paused),
--            "fenced" (refused: a leader with a newer term has written here;
--            every tick of the call is refused)
--            "missed" (recorded as missed),
--            "rolledback" (refused: "__seq" is below what the caller saw, so
--            this state lost writes, as after a failover to a replica that
--            had not received them; every tick of the call is refused);
--            then, unless refused, the new write sequence
local n = tonumber(ARGV[1])
local term = tonumber(ARGV[2])
local seen = tonumber(ARGV[3])
local out = {}
-- Fencing: the ticks hash remembers the newest leadership term that wrote
-- to it (field "__term", which no job name can take). A leader that was
-- frozen past its lease and wakes up cannot push anything.
local current = tonumber(redis.call('HGET', KEYS[1], '__term') or '0')
if term < current then
  for i = 1, n do out[i] = 'fenced' end
  return out
end
-- Rollback: every call bumps "__seq". A sequence below the one the caller
-- saw means writes it made are gone: it must reload the state and catch
-- up, or the lost ticks would stay lost.
if tonumber(redis.call('HGET', KEYS[1], '__seq') or '0') < seen then
  for i = 1, n do out[i] = 'rolledback' end
  return out
end
if term > current then
  redis.call('HSET', KEYS[1], '__term', term)
end
-- Usually no job is paused: one HLEN spares a lookup per tick.
local any_paused = redis.call('HLEN', KEYS[3]) > 0
for i = 1, n do
  local base = 4 + 9 * (i - 1)
  local job, tick, fp = ARGV[base], tonumber(ARGV[base + 1]), ARGV[base + 2]
  local action, payload, ttl = ARGV[base + 3], ARGV[base + 4], tonumber(ARGV[base + 5])
  local marker, list, set = KEYS[4 + 3 * (i - 1)], KEYS[5 + 3 * (i - 1)], KEYS[6 + 3 * (i - 1)]
  local state = redis.call('HGET', KEYS[1], job)
  local last = state and tonumber(string.match(state, '^(-?%d+)'))
  if last and last >= tick then
    out[i] = 'duplicate'
  else
    redis.call('HSET', KEYS[1], job, ARGV[base + 1] .. '|' .. fp)
    if action == 'miss' then
      redis.call('HINCRBY', KEYS[2], job .. ':missed', tonumber(payload))
      out[i] = 'missed'
    elseif any_paused and redis.call('HEXISTS', KEYS[3], job) == 1 then
      redis.call('HINCRBY', KEYS[2], job .. ':paused', 1)
      out[i] = 'paused'
    elseif ttl > 0 and redis.call('EXISTS', marker) == 1 then
      redis.call('HINCRBY', KEYS[2], job .. ':overlap', 1)
      out[i] = 'overlap'
    else
      if ARGV[base + 8] ~= '' then
        redis.call('SADD', set, ARGV[base + 8])
      end
      if ARGV[base + 7] == 'right' then
        redis.call('RPUSH', list, payload)
      else
        redis.call('LPUSH', list, payload)
      end
      if ttl > 0 then
        redis.call('SET', marker, ARGV[base + 6], 'PX', ttl)
      end
      redis.call('HINCRBY', KEYS[2], job .. ':enqueued', 1)
      out[i] = 'pushed'
    end
  end
end
out[n + 1] = tostring(redis.call('HINCRBY', KEYS[1], '__seq', 1))
return out
