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
-- KEYS[4]    in-flight hash of the queue (job -> "<payload id>|<expiry>",
--            the expiry in Unix ms)
-- KEYS[5]    waiting set of the queue (payload id, scored by its start
--            deadline in Unix ms), which `monitor.lua` watches for `late`
-- then, with ARGV[4] = "each", 3 keys per tick, in tick order from
--            KEYS[6]: the list to push to, the set to add ARGV[6] (or the
--            list's key) to (Sidekiq's and Resque's `queues`, RQ's
--            `rq:queues`; the list again when there is none), and the job's
--            own hash (RQ's `rq:job:<id>`, BullMQ's `<prefix>:<queue>:<id>`;
--            the list again when there is none); a tick with spec "b" has 6
--            more: BullMQ's `paused`, `meta`, `id`, `active`, `events` and
--            `marker` of its queue (the list is its `wait`);
--            with ARGV[4] = "uniform", KEYS[6] alone: the list every tick is
--            pushed to, at the left, with no set (the caller promises that,
--            and that no job has two ticks in the call)
-- then, last, n keys, one per tick i: the job's tick log, where the outcome of
--            each tick not already handled is recorded, newest first
-- ARGV[1]    number of ticks n; ARGV[2] the caller's leadership term;
-- ARGV[3]    the write sequence (field "__seq") the caller last saw here;
-- ARGV[4]    "uniform" or "each" (see KEYS); ARGV[5] the number k of ticks
--            that set an in-flight marker; ARGV[6] the member for the sets;
-- ARGV[7]    the instant of the push (Unix ms): a marker that expires by
--            then counts as absent
-- ARGV[8]    the number w of ticks whose payload is watched for `late`;
-- ARGV[9]    the most members the waiting set holds: a push past that is
--            not watched, and counted in the stats as "<job>:unwatched"
-- ARGV[10]   the entries a tick log keeps: it is trimmed to that many once
--            it holds a tenth more, so most pushes cost no LTRIM
-- then five sections of n values (the first of n pairs), each in tick
-- order, then one of k pairs, then one of w pairs:
--            job and its new state "<tick>|<fingerprint>";
--            payload JSON (for "m" and "o": how many ticks it records);
--            tick (Unix seconds);
--            spec: "l" push at the left (LPUSH), "r" at the right (RPUSH,
--            Resque's), "m" record it, and the missed ticks before it, as
--            missed without enqueueing, "o" record it, and the ticks before
--            it, as skipped for overlap (a newer tick of the job follows in
--            the call); after "l" or "r", "s" to add the
--            member to the set, or "S" to add the list's key, then "h" if
--            the payload is a job hash (`{"push": id, "hash": [field,
--            value, ...], "hex": [field, hex, ...]}`: the fields are written
--            to the job's hash, the hex ones decoded, and the id pushed),
--            then "b" if the job hash is a BullMQ job, added as BullMQ's
--            `addStandardJob` adds it (bullmq_add.lua) instead, then "k" if the tick sets a marker, then "w" if its payload is
--            watched;
--            the counter of pushes, "<job>:enqueued";
--            for each tick with "k": job and marker "<payload id>|<expiry>";
--            for each tick with "w": its start deadline (Unix ms) and
--            payload id, the waiting set's score and member
-- Returns    one letter per tick, then "|" and the new write sequence:
--            "P" pushed, "D" duplicate (already handled), "O" overlap
--            (skipped: the job's previous payload is in flight), "A" paused
--            (skipped), "M" recorded as missed; or, refusing every tick,
--            "fenced" (a leader with a newer term has written here) or
--            "rolledback" ("__seq" is below what the caller saw, so this
--            state lost writes, as after a failover to a replica that had
--            not received them)
--
-- Most calls are the same-instant ticks of distinct jobs, none in flight,
-- none paused: those are checked with one HMGET each for states and markers
-- and written with one variadic command per hash and list. Any other call
-- takes the tick-by-tick path, whose outcome is the same.
local n = tonumber(ARGV[1])
local term = tonumber(ARGV[2])
local seen = tonumber(ARGV[3])
local uniform = ARGV[4] == 'uniform'
local k = tonumber(ARGV[5])
local member = ARGV[6]
local now_ms = tonumber(ARGV[7])
local w = tonumber(ARGV[8])
local waiting_cap = tonumber(ARGV[9])
local log_cap = tonumber(ARGV[10])
-- KEYS[logs + i] is tick i's log: the last n keys.
local logs = #KEYS - n
local states, payloads = 10, 10 + 2 * n
local ticks = payloads + n
local specs = ticks + n
local counters = specs + n
local markers = counters + n
local watches = markers + 2 * k
-- Fencing: the ticks hash remembers the newest leadership term that wrote
-- to it (field "__term", which no job name can take). A leader that was
-- frozen past its lease and wakes up cannot push anything.
local current = tonumber(redis.call('HGET', KEYS[1], '__term') or '0')
if term < current then
  return 'fenced'
end
-- Rollback: every call bumps "__seq". A sequence below the one the caller
-- saw means writes it made are gone: it must reload the state and catch
-- up, or the lost ticks would stay lost.
if tonumber(redis.call('HGET', KEYS[1], '__seq') or '0') < seen then
  return 'rolledback'
end
if term > current then
  redis.call('HSET', KEYS[1], '__term', term)
end
-- Usually no job is paused: one HLEN spares a lookup per tick.
local any_paused = redis.call('HLEN', KEYS[3]) > 0
local function live(marker)
  if not marker then
    return false
  end
  local expiry = tonumber(string.match(marker, '|(%-?%d+)$'))
  return expiry ~= nil and expiry > now_ms
end
local function last_tick(state)
  return state and tonumber(string.match(state, '^(-?%d+)'))
end
-- Adds `count` (deadline, id) pairs from ARGV[from] to the waiting set, as
-- many as it has room for; the rest are counted as unwatched, per job (the
-- id's part before "@").
local function watch(from, count)
  local room = waiting_cap - redis.call('ZCARD', KEYS[5])
  if room >= count then
    redis.call('ZADD', KEYS[5], unpack(ARGV, from, from + 2 * count - 1))
    return
  end
  for j = 0, count - 1 do
    local id = ARGV[from + 2 * j + 1]
    if j < room then
      redis.call('ZADD', KEYS[5], ARGV[from + 2 * j], id)
    else
      redis.call('HINCRBY', KEYS[2], (string.match(id, '^(.*)@') or id) .. ':unwatched', 1)
    end
  end
end

-- Records tick i's outcome in its job's tick log: `{"tick": <Unix s>,
-- "outcome": <word>, "at": <Unix ms>}`, and `"count"` when it stands for
-- more than one tick.
local function log_tick(i, outcome, count)
  local entry = '{"tick":' .. ARGV[ticks + i] .. ',"outcome":"' .. outcome .. '","at":' .. ARGV[7]
  if count > 1 then
    entry = entry .. ',"count":' .. count
  end
  if redis.call('LPUSH', KEYS[logs + i], entry .. '}') > log_cap + math.floor(log_cap / 10) then
    redis.call('LTRIM', KEYS[logs + i], 0, log_cap - 1)
  end
end

-- The id and the fields, hex ones decoded, of a job-hash payload ("h").
local function job_hash(payload)
  local job = cjson.decode(payload)
  local fields = job.hash
  for j = 1, #job.hex, 2 do
    fields[#fields + 1] = job.hex[j]
    fields[#fields + 1] = (string.gsub(job.hex[j + 1], '%x%x', function(h)
      return string.char(tonumber(h, 16))
    end))
  end
  return job.push, fields
end

local fast = uniform and not any_paused
if fast then
  -- HMGET over the (job, state) pairs: the odd replies are the jobs' states.
  local recorded = redis.call('HMGET', KEYS[1], unpack(ARGV, states + 1, states + 2 * n))
  for i = 1, n do
    local last = last_tick(recorded[2 * i - 1])
    if last and last >= tonumber(ARGV[ticks + i]) then
      fast = false
      break
    end
  end
end
-- Markers of the call's jobs, looked up only if there are any at all.
if fast and k > 0 and redis.call('HLEN', KEYS[4]) > 0 then
  local held = redis.call('HMGET', KEYS[4], unpack(ARGV, markers + 1, markers + 2 * k))
  for j = 1, k do
    if live(held[2 * j - 1]) then
      fast = false
      break
    end
  end
end
if fast then
  redis.call('HSET', KEYS[1], unpack(ARGV, states + 1, states + 2 * n))
  redis.call('LPUSH', KEYS[6], unpack(ARGV, payloads + 1, payloads + n))
  if k > 0 then
    redis.call('HSET', KEYS[4], unpack(ARGV, markers + 1, markers + 2 * k))
  end
  if w > 0 then
    watch(watches + 1, w)
  end
  for i = 1, n do
    redis.call('HINCRBY', KEYS[2], ARGV[counters + i], 1)
    log_tick(i, 'pushed', 1)
  end
  return string.rep('P', n) .. '|' .. redis.call('HINCRBY', KEYS[1], '__seq', 1)
end

local out = {}
local key = 6
local marker = markers - 1
local watched = watches - 1
for i = 1, n do
  local job, state = ARGV[states + 2 * i - 1], ARGV[states + 2 * i]
  local payload, tick, spec = ARGV[payloads + i], tonumber(ARGV[ticks + i]), ARGV[specs + i]
  local sets = string.find(spec, 's', 2, true)
  local sets_key = string.find(spec, 'S', 2, true)
  local hashed = string.find(spec, 'h', 2, true)
  local bullmq = string.find(spec, 'b', 2, true)
  local marks = string.find(spec, 'k', 2, true)
  if marks then
    marker = marker + 2
  end
  local watches_it = string.find(spec, 'w', 2, true)
  if watches_it then
    watched = watched + 2
  end
  local list, set, hash = KEYS[6], nil, nil
  local bullmq_keys = nil
  if not uniform then
    list, set, hash = KEYS[key], KEYS[key + 1], KEYS[key + 2]
    if bullmq then
      bullmq_keys = { hash, list, unpack(KEYS, key + 3, key + 8) }
      key = key + 6
    end
    key = key + 3
  end
  local last = last_tick(redis.call('HGET', KEYS[1], job))
  if last and last >= tick then
    out[i] = 'D'
  else
    redis.call('HSET', KEYS[1], job, state)
    if spec == 'm' then
      redis.call('HINCRBY', KEYS[2], job .. ':missed', tonumber(payload))
      log_tick(i, 'missed', tonumber(payload))
      out[i] = 'M'
    elseif spec == 'o' then
      redis.call('HINCRBY', KEYS[2], job .. ':overlap', tonumber(payload))
      log_tick(i, 'overlap', tonumber(payload))
      out[i] = 'O'
    elseif any_paused and redis.call('HEXISTS', KEYS[3], job) == 1 then
      redis.call('HINCRBY', KEYS[2], job .. ':paused', 1)
      log_tick(i, 'paused', 1)
      out[i] = 'A'
    elseif marks and live(redis.call('HGET', KEYS[4], job)) then
      redis.call('HINCRBY', KEYS[2], job .. ':overlap', 1)
      log_tick(i, 'overlap', 1)
      out[i] = 'O'
    else
      if sets then
        redis.call('SADD', set, member)
      elseif sets_key then
        redis.call('SADD', set, list)
      end
      local fields
      if hashed then
        payload, fields = job_hash(payload)
      end
      if bullmq then
        add_bullmq_job(bullmq_keys, payload, fields)
      elseif hashed then
        redis.call('HSET', hash, unpack(fields))
      end
      if bullmq then -- pushed already
      elseif string.byte(spec, 1) == 114 then -- "r"
        redis.call('RPUSH', list, payload)
      else
        redis.call('LPUSH', list, payload)
      end
      if marks then
        redis.call('HSET', KEYS[4], job, ARGV[marker + 1])
      end
      if watches_it then
        watch(watched, 1)
      end
      redis.call('HINCRBY', KEYS[2], ARGV[counters + i], 1)
      log_tick(i, 'pushed', 1)
      out[i] = 'P'
    end
  end
end
return table.concat(out) .. '|' .. redis.call('HINCRBY', KEYS[1], '__seq', 1)
