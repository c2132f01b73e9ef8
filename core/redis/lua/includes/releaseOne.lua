-- Puts one held unit back: stock +1, the shopper's count -1, the token marked released, and the release
-- remembered by order (released: orderId -> "tid|gen"), so a caller that died before announcing it can
-- learn on its retry which token to hand back to the room. The token also goes into the room outbox
-- (roomOutbox: "tid|gen" scored by release time), which the hold sweep announces again: a caller that dies
-- between this script and telling the room, with no saga to retry it (the sweep itself), loses nothing.
-- Returns the token id and generation, or nil when there is no such hold (idempotent).
local function releaseOne(stockKey, holdsKey, holdInfoKey, tokensKey, shoppersKey, releasedKey, roomOutboxKey,
                          orderId, nowMs)
  local info = rcall('HGET', holdInfoKey, orderId)
  if not info then return nil end
  local tid, gen, shopper = string.match(info, '^([^|]+)|(%d+)|([^|]+)$')
  rcall('INCR', stockKey)
  if tonumber(rcall('HINCRBY', shoppersKey, shopper, -1)) <= 0 then rcall('HDEL', shoppersKey, shopper) end
  rcall('ZREM', holdsKey, orderId)
  rcall('HDEL', holdInfoKey, orderId)
  rcall('HSET', tokensKey, tid, gen .. '|released|' .. orderId .. '|' .. shopper)
  rcall('HSET', releasedKey, orderId, tid .. '|' .. gen)
  rcall('ZADD', roomOutboxKey, nowMs, tid .. '|' .. gen)
  return { tid, gen }
end
