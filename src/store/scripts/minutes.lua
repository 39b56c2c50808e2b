-- Shared by the scripts that end a payload's turn with a worker (finish,
-- retry, requeue, drop_taken), which include it ahead of their own text:
-- the queue's per-minute counters, written in the same atomic step as the
-- outcome they count.
--
-- The counters hash holds one field per minute of the hour, "0" to "59"
-- (the minute since the Unix epoch, modulo 60, on Redis's clock), each
-- "<minute since the epoch>|<processed>|<failed>". A field stamped with
-- another minute is an hour or more old: it reads as zero and is
-- overwritten. So the hash never holds more than 60 fields, and no reader
-- needs to prune it.
local function count_minute(key, processed, failed)
  local t = redis.call('TIME')
  local minute = math.floor(tonumber(t[1]) / 60)
  local field = tostring(minute % 60)
  local p, f = 0, 0
  local slot = redis.call('HGET', key, field)
  if slot then
    local at, sp, sf = string.match(slot, '^(%d+)|(%d+)|(%d+)$')
    if tonumber(at) == minute then
      p, f = tonumber(sp), tonumber(sf)
    end
  end
  redis.call('HSET', key, field, string.format('%d|%d|%d', minute, p + processed, f + failed))
end

-- The id of a payload as taken (JSON), or nil for one that is not JSON or
-- names none.
local function payload_id(raw)
  local ok, payload = pcall(cjson.decode, raw)
  if ok and type(payload) == 'table' and type(payload.id) == 'string' then
    return payload.id
  end
  return nil
end

