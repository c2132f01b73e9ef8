--[[
  Turns one purchase token into a held unit of stock, atomically, or says why not.
  The caller has already checked the token and grant signatures, the session binding and expiry;
  this script checks everything that needs shared state.
  Input:  KEYS[1] meta  KEYS[2] stock  KEYS[3] tokens (hash tid -> state)  KEYS[4] holds (zset orderId -> expiresAtMs)
          KEYS[5] holdInfo (hash orderId -> "tid|gen|shopper")  KEYS[6] shoppers (hash shopper -> units held or sold)
          KEYS[7] idempotency (hash key -> "orderId|tid|gen")
          KEYS[8] checkouts (hash orderId -> checkout job JSON): the outbox of new holds whose checkout job
                  is not yet known to be in BullMQ. Written in the same atomic step as the hold, so a
                  redeemed hold always gets its saga even if core dies before it enqueues (the outbox
                  forwarder, core/redeem/checkout-outbox.ts, moves entries into BullMQ and deletes them).
          ARGV[1] tid  ARGV[2] gen  ARGV[3] shopper  ARGV[4] idempotencyKey  ARGV[5] orderId
          ARGV[6] nowMs  ARGV[7] grantExpiresAtMs  ARGV[8] max checkouts in progress (0 = no cap)
          ARGV[9] checkout job JSON for the outbox ('' or absent: none is written)
          ARGV[10] receivedAtMs: when the edge received the request (absent: nowMs). The grant's expiry is judged
                   at this time; holds still expire from nowMs.
  Output: {Reply.NewHold, orderId} | {Reply.Replay, orderId} (an earlier redemption of this grant, any key)
          {Reply.SoldOut} | {Reply.TokenUsed} | {Reply.LimitReached} | {Reply.GrantSuperseded}
          {Reply.IdempotencyKeyConflict} | {Reply.GrantExpired} | {Reply.SaleNotFound} | {Reply.CheckoutsBusy}
]]
local rcall = redis.call
-- Includes
--- @include "replies"
--- @include "includes/splitState"

local metaKey, stockKey, tokensKey, holdsKey, holdInfoKey, shoppersKey, idemKey, checkoutsKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local tid, gen, shopper, idem, orderId = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local now, grantExp, maxCheckouts = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8] or '0')
local checkoutJob = ARGV[9] or ''
local receivedAt = tonumber(ARGV[10] or '') or now

local seen = rcall('HGET', idemKey, idem)
if seen then
  local seenOrder, seenTid, seenGen = string.match(seen, '^([^|]+)|([^|]+)|(%d+)$')
  if seenTid == tid and tonumber(seenGen) == gen then return { Reply.Replay, seenOrder } end
  return { Reply.IdempotencyKeyConflict }
end

local state = splitState(rcall('HGET', tokensKey, tid))
-- Held, committed or sold by this very grant: the same token again is the same order, whatever the grant's age.
if state and state.gen == gen and state.status ~= 'void' and state.status ~= 'released' and state.shopper == shopper then
  rcall('HSET', idemKey, idem, state.orderId .. '|' .. tid .. '|' .. gen)
  return { Reply.Replay, state.orderId }
end

-- Only a request that would create something is judged by the grant's expiry, at the time the edge received it,
-- and inside the same atomic step as the fence that expireGrants sets.
if receivedAt >= grantExp then return { Reply.GrantExpired } end

if state then
  if state.gen > gen then return { Reply.GrantSuperseded } end
  if state.gen == gen then
    if state.status == 'void' then return { Reply.GrantSuperseded } end
    return { Reply.TokenUsed }
  end
  if state.status ~= 'released' and state.status ~= 'void' then return { Reply.TokenUsed } end
end

local limit = tonumber(rcall('HGET', metaKey, 'limit'))
local holdTtl = tonumber(rcall('HGET', metaKey, 'holdTtlMs'))
if not limit then return { Reply.SaleNotFound } end
if tonumber(rcall('HGET', shoppersKey, shopper) or '0') >= limit then return { Reply.LimitReached } end
if tonumber(rcall('GET', stockKey) or '0') <= 0 then return { Reply.SoldOut } end
-- Seed 003 §8.2's global cap on concurrent checkouts: units held while their payment runs.
if maxCheckouts > 0 and rcall('HLEN', holdInfoKey) >= maxCheckouts then return { Reply.CheckoutsBusy } end

rcall('DECR', stockKey)
rcall('HINCRBY', shoppersKey, shopper, 1)
rcall('HSET', tokensKey, tid, gen .. '|held|' .. orderId .. '|' .. shopper)
rcall('ZADD', holdsKey, now + holdTtl, orderId)
rcall('HSET', holdInfoKey, orderId, tid .. '|' .. gen .. '|' .. shopper)
rcall('HSET', idemKey, idem, orderId .. '|' .. tid .. '|' .. gen)
if checkoutJob ~= '' then rcall('HSET', checkoutsKey, orderId, checkoutJob) end
return { Reply.NewHold, orderId }
