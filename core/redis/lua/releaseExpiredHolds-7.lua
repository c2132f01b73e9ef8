--[[
  Releases every hold whose expiry has passed, oldest first, up to a batch size.
  A Redis TTL cannot put a unit back in stock (seed 003 §6.4), so expiry is an index plus this sweep.
  Input:  KEYS[1] stock  KEYS[2] holds (zset)  KEYS[3] holdInfo (hash)  KEYS[4] tokens (hash)  KEYS[5] shoppers (hash)
          KEYS[6] released (hash orderId -> "tid|gen": holds given back)
          KEYS[7] roomOutbox (zset "tid|gen" -> releasedAtMs: tokens the hold sweep announces to the room again)
          ARGV[1] nowMs  ARGV[2] max holds to release
  Output: flat list orderId, tid, gen, orderId, tid, gen, ...
]]
local rcall = redis.call
-- Includes
--- @include "includes/releaseOne"
local expired = rcall('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, orderId in ipairs(expired) do
  local released = releaseOne(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], orderId, ARGV[1])
  if released then
    out[#out + 1] = orderId
    out[#out + 1] = released[1]
    out[#out + 1] = released[2]
  else
    rcall('ZREM', KEYS[2], orderId)
  end
end
return out
