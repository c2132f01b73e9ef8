--[[
  Copies SKUs' stock from Postgres into Redis, each only if its version is newer than the copy's, so a late
  write (an older version) never replaces a newer one.
  Input:  KEYS[1] stock (hash sku -> "version:quantity"; quantity -1 = no such active SKU)
          ARGV[1..] triples: sku, quantity, version
  Output: how many SKUs were written
]]
local rcall = redis.call
local stockKey = KEYS[1]
local written = 0
for i = 1, #ARGV, 3 do
  local sku, quantity, version = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local current = rcall('HGET', stockKey, sku)
  local currentVersion = current and tonumber(string.match(current, '^(%d+):')) or -1
  if version > currentVersion then
    rcall('HSET', stockKey, sku, version .. ':' .. quantity)
    written = written + 1
  end
end
return written
