--[[
  Adds a batch of checkout jobs to BullMQ's `checkout` queue in one step: what BullMQ's own
  addStandardJob-9.lua does for a job with a custom id, no parent, no delay, no priority, no
  deduplication, FIFO — once per job, with the queue's meta read once per batch. Used by the checkout
  outbox forwarder (core/redeem/checkout-outbox.ts); Queue.add costs ~35 µs of core CPU and ~35 µs of
  Redis CPU per job, this ~5 µs of each. core/redis/add-checkout-jobs.test.ts checks that a job added
  here is stored exactly like one added with Queue.add (so a BullMQ upgrade that changes the layout
  fails there) and that a BullMQ Worker runs it.
  Input:  KEYS[1] wait  KEYS[2] meta  KEYS[3] id  KEYS[4] events  KEYS[5] marker  KEYS[6] active
          ARGV[1] job key prefix (`<prefix>:checkout:`)  ARGV[2] job name  ARGV[3] job opts as BullMQ
          stores them (JSON object), without `jobId` (added here per job, as BullMQ stores it)  ARGV[4] timestamp (ms)  then pairs: ARGV[5 + 2i] job id, ARGV[6 + 2i] data JSON
  Output: number of jobs added (a job id that already exists is left alone: jobs are idempotent by id)
]]
local rcall = redis.call
local waitKey, metaKey, idKey, eventsKey, markerKey, activeKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix, name, opts, timestamp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local optsRest = string.sub(opts, 2) -- after the '{'
if optsRest ~= '}' then optsRest = ',' .. optsRest end

local maxEvents = rcall('HGET', metaKey, 'opts.maxLenEvents')
if not maxEvents then
  maxEvents = 10000
  rcall('HSET', metaKey, 'opts.maxLenEvents', maxEvents)
end

local added = 0
for i = 5, #ARGV, 2 do
  local jobId, data = ARGV[i], ARGV[i + 1]
  local jobKey = prefix .. jobId
  rcall('INCR', idKey)
  if rcall('EXISTS', jobKey) == 1 then
    rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'duplicated', 'jobId', jobId)
  else
    rcall('HMSET', jobKey, 'name', name, 'data', data, 'opts', '{"jobId":' .. cjson.encode(jobId) .. optsRest, 'timestamp', timestamp, 'delay', 0, 'priority', 0)
    rcall('XADD', eventsKey, '*', 'event', 'added', 'jobId', jobId, 'name', name)
    rcall('LPUSH', waitKey, jobId)
    rcall('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', jobId)
    added = added + 1
  end
end

-- The marker wakes blocked workers, unless the queue is paused or at its global concurrency.
if added > 0 then
  local attributes = rcall('HMGET', metaKey, 'paused', 'concurrency')
  local pausedOrMaxed = attributes[1] and true or false
  if not pausedOrMaxed and attributes[2] then pausedOrMaxed = rcall('LLEN', activeKey) >= tonumber(attributes[2]) end
  if not pausedOrMaxed then rcall('ZADD', markerKey, 0, '0') end
end
return added
