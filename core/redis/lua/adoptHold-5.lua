--[[
  The checkout saga's first look at its order's hold. When the hold is there, it is adopted. When it is not
  (the expiry sweep gave it back, or Redis lost it and the rebuild could not know it), the token generation
  is fenced as released before anybody tells the room it is free: otherwise a redeem retry of the same grant
  (its idempotency record lost with Redis) could hold a unit for that generation again, after the room had
  already handed the next generation to the next shopper, and that shopper would be refused "token used".
  A token that has moved on (a later generation, or held or sold by another order) is left alone and the room
  is not told anything: the order holding it owns its outcome.
  Input:  KEYS[1] meta  KEYS[2] holds (zset)  KEYS[3] holdInfo (hash)  KEYS[4] tokens (hash)
          KEYS[5] released (hash orderId -> "tid|gen")
          ARGV[1] orderId  ARGV[2] tid  ARGV[3] gen  ARGV[4] shopper
  Output: Reply.HoldActive | Reply.HoldCommitted: the hold is there
          Reply.Released: no hold, and this generation of the token is released (now or before): tell the room
          Reply.NoHold: no hold, and the token is another order's or a later generation's: tell nobody
          Reply.Inconsistent: the token says this order holds it, but there is no hold
          Reply.SaleNotFound: the sale is not in Redis (lost, rebuild pending): nothing can be concluded
]]
local rcall = redis.call
-- Includes
--- @include "replies"
--- @include "includes/splitState"

local orderId, tid, gen, shopper = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if rcall('EXISTS', KEYS[1]) == 0 then return Reply.SaleNotFound end
if rcall('HEXISTS', KEYS[3], orderId) == 1 then
  if rcall('ZSCORE', KEYS[2], orderId) then return Reply.HoldActive end
  return Reply.HoldCommitted
end

local state = splitState(rcall('HGET', KEYS[4], tid))
if state then
  if state.gen > gen then return Reply.NoHold end
  if state.status ~= 'released' and state.status ~= 'void' then
    if state.gen == gen and state.orderId == orderId and state.status ~= 'sold' then return Reply.Inconsistent end
    return Reply.NoHold
  end
  if state.gen == gen then return Reply.Released end
end
rcall('HSET', KEYS[4], tid, gen .. '|released|' .. orderId .. '|' .. shopper)
rcall('HSET', KEYS[5], orderId, tid .. '|' .. gen)
return Reply.Released
