-- Adds one BullMQ job outside the schedule (`clock trigger`), as BullMQ's
-- `Queue.add` would; after bullmq_add.lua.
--
-- KEYS[1..8] the job's hash, then `wait`, `paused`, `meta`, `id`,
--            `active`, `events`, `marker` of its queue
-- ARGV[1]    the job-hash payload (`{"push": id, "hash": [field, value,
--            ...], "hex": []}`)
-- Returns    1
local job = cjson.decode(ARGV[1])
add_bullmq_job(KEYS, job.push, job.hash)
return 1
