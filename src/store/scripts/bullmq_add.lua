-- BullMQ's `addStandardJob` (BullMQ 5, checked against 5.58.5's
-- addStandardJob-9.lua and its includes storeJob, getOrSetMaxEvents,
-- getTargetQueueList, addJobInTargetList and handleDuplicatedJob), for the
-- one kind of job campanile adds: a custom id, no delay, priority, parent,
-- LIFO or deduplication. The scripts that push BullMQ jobs (enqueue.lua,
-- push_bullmq.lua) start with this file.
--
-- keys       the job's hash `<prefix>:<queue>:<id>`, then `wait`, `paused`,
--            `meta`, `id`, `active`, `events`, `marker` of its queue
-- id         the job id; fields: the hash's fields and values, flat
-- Effect     as BullMQ's: bumps the id counter; if the job's hash exists,
--            only a `duplicated` event; else writes the hash, an `added`
--            event, pushes the id on `paused` (the queue is paused) or
--            `wait`, adds the marker unless paused or at its concurrency,
--            and a `waiting` event, the stream capped (MAXLEN ~) at the
--            meta hash's `opts.maxLenEvents`, set to 10000 when absent
local function add_bullmq_job(keys, id, fields)
  local hash, wait, paused, meta, counter, active, events, marker = unpack(keys)
  redis.call('INCR', counter)
  local max_events = redis.call('HGET', meta, 'opts.maxLenEvents')
  if not max_events then
    max_events = 10000
    redis.call('HSET', meta, 'opts.maxLenEvents', max_events)
  end
  if redis.call('EXISTS', hash) == 1 then
    redis.call('XADD', events, 'MAXLEN', '~', max_events, '*', 'event', 'duplicated', 'jobId', id)
    return
  end
  redis.call('HMSET', hash, unpack(fields))
  local name = ''
  for j = 1, #fields, 2 do
    if fields[j] == 'name' then
      name = fields[j + 1]
    end
  end
  redis.call('XADD', events, '*', 'event', 'added', 'jobId', id, 'name', name)
  local queue = redis.call('HMGET', meta, 'paused', 'concurrency')
  local target, held = wait, false
  if queue[1] then
    target, held = paused, true
  elseif queue[2] then
    held = redis.call('LLEN', active) >= tonumber(queue[2])
  end
  redis.call('LPUSH', target, id)
  if not held then
    redis.call('ZADD', marker, 0, '0')
  end
  redis.call('XADD', events, 'MAXLEN', '~', max_events, '*', 'event', 'waiting', 'jobId', id)
end

