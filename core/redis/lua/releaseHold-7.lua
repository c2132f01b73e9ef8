--[[
  Gives a held unit back to the sale (payment failed, or the saga gave up).
  Input:  KEYS[1] stock  KEYS[2] holds (zset)  KEYS[3] holdInfo (hash)  KEYS[4] tokens (hash)  KEYS[5] shoppers (hash)
          KEYS[6] released (hash orderId -> "tid|gen": holds given back)
          KEYS[7] roomOutbox (zset "tid|gen" -> releasedAtMs: tokens the hold sweep announces to the room again)
          ARGV[1] orderId  ARGV[2] nowMs
  Output: {Reply.Released, tid, gen} released now
          {Reply.ReleasedBefore, tid, gen} released before (by an earlier call or the expiry sweep): nothing
                        changes, but the caller learns the token, so one that died between the release and telling
                        the room tells it now
          {Reply.NoHold} no such hold (never held, or sold)
]]
local rcall = redis.call
-- Includes
--- @include "replies"
--- @include "includes/releaseOne"
local released = releaseOne(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1], ARGV[2])
if released then return { Reply.Released, released[1], released[2] } end
local before = rcall('HGET', KEYS[6], ARGV[1])
if not before then return { Reply.NoHold } end
local tid, gen = string.match(before, '^([^|]+)|(%d+)$')
return { Reply.ReleasedBefore, tid, gen }
