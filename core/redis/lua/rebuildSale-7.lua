--[[
  Rebuilds a sale's counters after Redis lost them, from what Postgres knows; only when the sale's meta is
  gone (a sale Redis still has is never touched). Units: sold = confirmed orders; held = the holds handed
  in (orders still settling); available = stock - sold - held. Tokens get the state of their latest order.
  Input:  KEYS[1] meta (hash)  KEYS[2] stock  KEYS[3] sold  KEYS[4] tokens (hash)  KEYS[5] holds (zset)
          KEYS[6] holdInfo (hash)  KEYS[7] shoppers (hash)
          ARGV[1] stock  ARGV[2] perShopperLimit  ARGV[3] holdTtlMs
          ARGV[4] JSON { "sold": n, "tokens": [[tid, "gen|status|orderId|shopper"], ...],
                         "holds": [[orderId, tid, gen, shopper, expiresAtMs (0 = committed)], ...] }
  Output: {Reply.Created, available} rebuilt | {Reply.Exists} the sale's counters exist: nothing done
          | {Reply.Inconsistent} sold + held > stock
]]
local rcall = redis.call
--- @include "replies"
if rcall('EXISTS', KEYS[1]) == 1 then return { Reply.Exists } end
local metaKey, stockKey, soldKey, tokensKey, holdsKey, holdInfoKey, shoppersKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local stock = tonumber(ARGV[1])
local data = cjson.decode(ARGV[4])
local sold = tonumber(data.sold)
local available = stock - sold - #data.holds
if available < 0 then return { Reply.Inconsistent } end

for _, t in ipairs(data.tokens) do rcall('HSET', tokensKey, t[1], t[2]) end
local perShopper = {}
for _, h in ipairs(data.holds) do
  local orderId, tid, gen, shopper, expiresAt = h[1], h[2], h[3], h[4], tonumber(h[5])
  rcall('HSET', holdInfoKey, orderId, tid .. '|' .. gen .. '|' .. shopper)
  if expiresAt > 0 then rcall('ZADD', holdsKey, expiresAt, orderId) end
  perShopper[shopper] = (perShopper[shopper] or 0) + 1
end
for _, t in ipairs(data.tokens) do
  local status, shopper = string.match(t[2], '^%d+|(%a+)|[^|]*|([^|]*)$')
  if status == 'sold' then perShopper[shopper] = (perShopper[shopper] or 0) + 1 end
end
for shopper, n in pairs(perShopper) do rcall('HSET', shoppersKey, shopper, n) end
rcall('SET', stockKey, available)
rcall('SET', soldKey, sold)
-- meta last: until it exists, redeem answers SaleNotFound and nothing else writes this sale.
rcall('HSET', metaKey, 'stock', ARGV[1], 'limit', ARGV[2], 'holdTtlMs', ARGV[3])
return { Reply.Created, available }
