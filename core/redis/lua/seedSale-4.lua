--[[
  Creates a sale's counters once. Re-running with the same sale changes nothing.
  Input:  KEYS[1] meta (hash)  KEYS[2] stock  KEYS[3] sold  KEYS[4] holds (zset)
          ARGV[1] stock  ARGV[2] perShopperLimit  ARGV[3] holdTtlMs
  Output: Reply.Created | Reply.Exists (nothing changed)
]]
local rcall = redis.call
--- @include "replies"
if rcall('EXISTS', KEYS[1]) == 1 then return Reply.Exists end
rcall('HSET', KEYS[1], 'stock', ARGV[1], 'limit', ARGV[2], 'holdTtlMs', ARGV[3])
rcall('SET', KEYS[2], ARGV[1])
rcall('SET', KEYS[3], 0)
return Reply.Created
