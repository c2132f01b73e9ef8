-- A token's state is stored as "gen|status|orderId|shopper"; statuses:
-- held (redeemed, payment running), committed (payment authorized, cannot expire),
-- sold, released (payment failed or hold expired: unit back in stock), void (grant expired unredeemed).
local function splitState(raw)
  if not raw then return nil end
  local gen, status, orderId, shopper = string.match(raw, '^(%d+)|(%a+)|([^|]*)|([^|]*)$')
  return { gen = tonumber(gen), status = status, orderId = orderId, shopper = shopper }
end
