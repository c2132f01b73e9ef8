--[[
  Reads where a hold stands, without changing it.
  Input:  KEYS[1] meta (hash)  KEYS[2] holds (zset)  KEYS[3] holdInfo (hash)
          ARGV[1] orderId
  Output: 1 held (can still expire) | 2 committed (cannot expire) | 0 no hold (released, expired or finalized)
          | -1 the sale is not in Redis (Redis lost it and the rebuild has not run yet): nothing can be concluded
]]
local rcall = redis.call
if rcall('EXISTS', KEYS[1]) == 0 then return -1 end
if rcall('HEXISTS', KEYS[3], ARGV[1]) == 0 then return 0 end
if rcall('ZSCORE', KEYS[2], ARGV[1]) then return 1 end
return 2
