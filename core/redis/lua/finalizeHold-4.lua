--[[
  Records a held unit as sold, after its order is confirmed in Postgres.
  Input:  KEYS[1] holds (zset)  KEYS[2] holdInfo (hash)  KEYS[3] tokens (hash)  KEYS[4] sold
          ARGV[1] orderId
  Output: {Reply.Sold, tid, gen} sold now | {Reply.NoHold} nothing to do (already finalized)
]]
local rcall = redis.call
--- @include "replies"
local info = rcall('HGET', KEYS[2], ARGV[1])
if not info then return { Reply.NoHold } end
local tid, gen, shopper = string.match(info, '^([^|]+)|(%d+)|([^|]+)$')
rcall('ZREM', KEYS[1], ARGV[1])
rcall('HDEL', KEYS[2], ARGV[1])
rcall('INCR', KEYS[4])
rcall('HSET', KEYS[3], tid, gen .. '|sold|' .. ARGV[1] .. '|' .. shopper)
return { Reply.Sold, tid, gen }
