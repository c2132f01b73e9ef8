--[[
  Reads where a hold stands, without changing it.
  Input:  KEYS[1] meta (hash)  KEYS[2] holds (zset)  KEYS[3] holdInfo (hash)
          ARGV[1] orderId
  Output: Reply.HoldActive (held, can still expire) | Reply.HoldCommitted (cannot expire)
          | Reply.NoHold (released, expired or finalized)
          | Reply.SaleNotFound: the sale is not in Redis (lost, rebuild pending): nothing can be concluded
]]
local rcall = redis.call
--- @include "replies"
if rcall('EXISTS', KEYS[1]) == 0 then return Reply.SaleNotFound end
if rcall('HEXISTS', KEYS[3], ARGV[1]) == 0 then return Reply.NoHold end
if rcall('ZSCORE', KEYS[2], ARGV[1]) then return Reply.HoldActive end
return Reply.HoldCommitted
