-- Shared by every script that adds or removes dead letters, which starts
-- with this text: it keeps the queue's dead-letter counts hash equal to
-- what its dead-letter list holds, so a page reads a job's count with one
-- HGET rather than a scan of up to 10,000 letters.
--
-- The hash holds, per job with letters, how many it has, and `__all`,
-- how many letters the list holds (no job name starts with `_`). A list
-- with letters and no `__all` (letters written before the counts were
-- kept) is counted once, in full, by the first script to touch it.
local function dead_letter_job(letter)
  local ok, decoded = pcall(cjson.decode, letter)
  if ok and type(decoded) == 'table' and type(decoded.job) == 'string' then
    return decoded.job
  end
  return nil
end

local function count_dead(counts, letter, by)
  local job = dead_letter_job(letter)
  if job and redis.call('HINCRBY', counts, job, by) <= 0 then
    redis.call('HDEL', counts, job)
  end
  if redis.call('HINCRBY', counts, '__all', by) <= 0 then
    redis.call('HDEL', counts, '__all')
  end
end

local function ensure_dead_counted(dead, counts)
  if redis.call('HEXISTS', counts, '__all') == 1 or redis.call('LLEN', dead) == 0 then
    return
  end
  redis.call('DEL', counts)
  for _, letter in ipairs(redis.call('LRANGE', dead, 0, -1)) do
    count_dead(counts, letter, 1)
  end
end

-- LPUSHes `letter` and trims the list to `cap`, counting the letter in
-- and whatever the trim drops out.
local function add_dead(dead, counts, letter, cap)
  ensure_dead_counted(dead, counts)
  redis.call('LPUSH', dead, letter)
  count_dead(counts, letter, 1)
  for _, dropped in ipairs(redis.call('LRANGE', dead, cap, -1)) do
    count_dead(counts, dropped, -1)
  end
  redis.call('LTRIM', dead, 0, cap - 1)
end

-- Removes one `letter` (exactly as stored); 1 if it was there, else 0.
local function remove_dead(dead, counts, letter)
  ensure_dead_counted(dead, counts)
  if redis.call('LREM', dead, 1, letter) == 0 then
    return 0
  end
  count_dead(counts, letter, -1)
  return 1
end

