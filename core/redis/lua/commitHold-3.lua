--[[
  Takes a hold out of the expiry index once its payment is authorized, so the sweeper can no longer
  give the unit to someone else while the order is being settled.
  Input:  KEYS[1] holds (zset)  KEYS[2] holdInfo (hash)  KEYS[3] tokens (hash)
          ARGV[1] orderId
  Output: Reply.HoldCommitted (now or before) | Reply.HoldGone (expired and released before we got here)
]]
local rcall = redis.call
--- @include "replies"
local info = rcall('HGET', KEYS[2], ARGV[1])
if not info then return Reply.HoldGone end
if rcall('ZREM', KEYS[1], ARGV[1]) == 1 then
  local tid, gen, shopper = string.match(info, '^([^|]+)|(%d+)|([^|]+)$')
  rcall('HSET', KEYS[3], tid, gen .. '|committed|' .. ARGV[1] .. '|' .. shopper)
end
return Reply.HoldCommitted
