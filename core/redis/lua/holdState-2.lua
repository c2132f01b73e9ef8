--[[
  Reads where a hold stands, without changing it.
  Input:  KEYS[1] holds (zset)  KEYS[2] holdInfo (hash)
          ARGV[1] orderId
  Output: 1 held (can still expire) | 2 committed (cannot expire) | 0 no hold (released, expired or finalized)
]]
local rcall = redis.call
if rcall('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
if rcall('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
return 2
