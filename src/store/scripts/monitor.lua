-- Look at one queue: its pending depth, the age of its oldest payload and
-- its live workers; and, for the leading clock, move the payloads that
-- missed their start deadline from the waiting set to the late set and
-- keep the queue's unserved episode.
--
-- Moving a payload to the late set is what reports it: the caller sends
-- `late` for exactly the ids returned, and an id is returned once, however
-- many clocks call this or whichever leads. Likewise the episode: "unserved"
-- and "served" are each returned once per episode.
--
-- The workers' lease keys are built here from the prefix in ARGV[2] and
-- the ids in KEYS[4] rather than passed in: they are not known before the
-- set is read, and they carry the queue's hash tag, so they live in the
-- same Redis Cluster slot as the declared keys.
--
-- KEYS[1]  the queue's waiting set (payload id, scored by start deadline,
--          Unix ms)
-- KEYS[2]  the queue's late set (same members and scores, once late)
-- KEYS[3]  the queue's pending list (LPUSHed, taken from the right)
-- KEYS[4]  the queue's workers set
-- KEYS[5]  the queue's monitor hash (unserved_since, unserved_sent,
--          checked_at; Unix ms, Redis time)
-- ARGV[1]  "watch" (the leading clock: move late payloads, keep the
--          episode) or "look" (read only)
-- ARGV[2]  what every lease key of the queue starts with ("P{Q}:lease:")
-- ARGV[3]  unserved_after, ms
-- ARGV[4]  most payloads moved to the late set per call
-- ARGV[5]  how many members the late set keeps (those with the latest
--          deadlines)
-- ARGV[6]  most workers whose lease is checked
-- ARGV[7]  a gap in the watch longer than this (ms) restarts an episode
--          not yet reported: nobody looked at the workers meanwhile
-- Returns  {now (Unix ms, Redis time), pending depth, live workers,
--          enqueued_at of the oldest pending payload or "",
--          "" / "unserved" / "served", how long unserved (ms),
--          then per payload gone late: id, deadline (Unix ms)}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local depth = redis.call('LLEN', KEYS[3])
local oldest = ''
if depth > 0 then
  local raw = redis.call('LINDEX', KEYS[3], -1)
  oldest = string.match(raw, '"enqueued_at"%s*:%s*"([^"]*)"') or ''
end
local live = 0
for _, id in ipairs(redis.call('SRANDMEMBER', KEYS[4], tonumber(ARGV[6]))) do
  if redis.call('EXISTS', ARGV[2] .. id) == 1 then
    live = live + 1
  end
end
local out = {now, depth, live, oldest, '', 0}
if ARGV[1] ~= 'watch' then
  return out
end

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
if #due > 0 then
  local ids, moved = {}, {}
  for i = 1, #due, 2 do
    ids[#ids + 1] = due[i]
    moved[#moved + 1] = due[i + 1]
    moved[#moved + 1] = due[i]
    out[#out + 1] = due[i]
    out[#out + 1] = due[i + 1]
  end
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('ZADD', KEYS[2], unpack(moved))
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
end

local state = redis.call('HMGET', KEYS[5], 'unserved_since', 'unserved_sent', 'checked_at')
local since, sent, checked = tonumber(state[1]), state[2] == '1', tonumber(state[3])
redis.call('HSET', KEYS[5], 'checked_at', string.format('%d', now))
if live > 0 then
  if sent then
    redis.call('HDEL', KEYS[5], 'unserved_since', 'unserved_sent')
    out[5], out[6] = 'served', now - (since or now)
  elseif since then
    redis.call('HDEL', KEYS[5], 'unserved_since')
  end
  return out
end
if not since or (not sent and (not checked or now - checked > tonumber(ARGV[7]))) then
  since = now
  redis.call('HSET', KEYS[5], 'unserved_since', string.format('%d', now))
end
if not sent and now - since >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[5], 'unserved_sent', 1)
  out[5], out[6] = 'unserved', now - since
end
return out
