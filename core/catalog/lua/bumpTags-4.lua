--[[
  Records one catalog change for the edge caches: a new sequence number, and each changed tag's version set to
  it. Keeps the newest ARGV[2] tags; dropping older ones raises the floor (a tag not kept has version = floor).
  The epoch is set once: if Redis loses these keys, the epoch changes and edges drop what they knew.
  Input:  KEYS[1] seq  KEYS[2] tags (zset tag -> seq of its last change)  KEYS[3] floor  KEYS[4] epoch
          ARGV[1] a fresh epoch id (used only if none is set)  ARGV[2] tags to keep  ARGV[3..] changed tags
  Output: the new sequence number
]]
local rcall = redis.call
local seqKey, tagsKey, floorKey, epochKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
rcall('SET', epochKey, ARGV[1], 'NX')
local seq = rcall('INCR', seqKey)
for i = 3, #ARGV do rcall('ZADD', tagsKey, seq, ARGV[i]) end
local excess = rcall('ZCARD', tagsKey) - tonumber(ARGV[2])
if excess > 0 then
  local dropped = rcall('ZRANGE', tagsKey, 0, excess - 1, 'WITHSCORES')
  local top = tonumber(dropped[#dropped])
  rcall('ZREMRANGEBYRANK', tagsKey, 0, excess - 1)
  if top > tonumber(rcall('GET', floorKey) or '0') then rcall('SET', floorKey, top) end
end
return seq
