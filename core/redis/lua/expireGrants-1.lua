--[[
  Fences grants the waiting room considers expired. For each (tid, gen): if the shopper redeemed it,
  say so; otherwise mark that generation void so a late redeem can never succeed, and say voided.
  Input:  KEYS[1] tokens (hash)
          ARGV pairs: tid, gen, tid, gen, ...
  Output: flat list of Reply.GrantRedeemed or Reply.GrantVoided, one per pair
]]
local rcall = redis.call
-- Includes
--- @include "replies"
--- @include "includes/splitState"
local out = {}
for i = 1, #ARGV, 2 do
  local tid, gen = ARGV[i], tonumber(ARGV[i + 1])
  local state = splitState(rcall('HGET', KEYS[1], tid))
  if state and state.gen == gen and state.status ~= 'void' then
    out[#out + 1] = Reply.GrantRedeemed
  elseif state and (state.gen > gen or (state.status ~= 'released' and state.status ~= 'void')) then
    -- a newer generation exists, or an older one still holds the unit: nothing of this grant to fence
    out[#out + 1] = Reply.GrantVoided
  else
    rcall('HSET', KEYS[1], tid, gen .. '|void||')
    out[#out + 1] = Reply.GrantVoided
  end
end
return out
