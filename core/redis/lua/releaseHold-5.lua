--[[
  Gives a held unit back to the sale (payment failed, or the saga gave up).
  Input:  KEYS[1] stock  KEYS[2] holds (zset)  KEYS[3] holdInfo (hash)  KEYS[4] tokens (hash)  KEYS[5] shoppers (hash)
          ARGV[1] orderId
  Output: {1, tid, gen} released | {0} no such hold (already released or sold)
]]
local rcall = redis.call
-- Includes
--- @include "includes/releaseOne"
local released = releaseOne(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])
if not released then return { 0 } end
return { 1, released[1], released[2] }
