--[[
  The tags changed after a sequence number, for an edge instance catching up.
  Input:  KEYS[1] seq  KEYS[2] tags (zset)  KEYS[3] floor  KEYS[4] epoch
          ARGV[1] after (sequence number the caller has seen)  ARGV[2] most tags to list
          ARGV[3] a fresh epoch id (used only if none is set)
  Output: { epoch, seq, floor, tag1, version1, tag2, version2, ... }. When more than ARGV[2] tags changed, none
          are listed and floor = seq: the caller treats every tag as changed at seq.
]]
local rcall = redis.call
local seqKey, tagsKey, floorKey, epochKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
rcall('SET', epochKey, ARGV[3], 'NX')
local epoch = rcall('GET', epochKey)
local seq = tonumber(rcall('GET', seqKey) or '0')
local floor = tonumber(rcall('GET', floorKey) or '0')
local after = '(' .. ARGV[1]
if rcall('ZCOUNT', tagsKey, after, '+inf') > tonumber(ARGV[2]) then return { epoch, seq, seq } end
local out = { epoch, seq, floor }
local changed = rcall('ZRANGEBYSCORE', tagsKey, after, '+inf', 'WITHSCORES')
for i = 1, #changed do out[#out + 1] = changed[i] end
return out
