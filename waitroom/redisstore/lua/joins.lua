-- joins: the joins of one event gathered while a previous call was in flight, served in order of arrival; each is
-- join.lua's: a place, or the fan's place back; the pre-queue sizes freeze at the first join after open.
-- KEYS: 1 q:state, 2 q:seq, 3 q:pre, then the q:fans:<bucket> of each join
-- ARGV: 1 MaxLanes, then per join: fan field, lane, now ms, open ms
-- Returns v, created, pre per join. A closed event gives no place.
local st = redis.call('HMGET', KEYS[1], 'ver', 'frozen', 'closed')
if not st[1] then return redis.error_reply('NOTFOUND') end
if st[3] then return redis.error_reply('CLOSED') end
local frozen = st[2]
local ml = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS - 3 do
  local a = 2 + (i - 1) * 4
  local field, lane = ARGV[a], ARGV[a + 1]
  if not frozen and tonumber(ARGV[a + 2]) >= tonumber(ARGV[a + 3]) then
    local all = redis.call('HGETALL', KEYS[2])
    if #all > 0 then redis.call('HSET', KEYS[3], unpack(all)) end
    redis.call('HSET', KEYS[1], 'frozen', '1')
    frozen = '1'
  end
  local v = redis.call('HGET', KEYS[3 + i], field)
  local created = 0
  if v then
    v = tonumber(v)
  else
    local s = redis.call('HINCRBY', KEYS[2], lane, 1)
    v = s * ml + tonumber(lane)
    redis.call('HSET', KEYS[3 + i], field, string.format('%d', v))
    created = 1
  end
  local pre = -1
  if frozen then pre = tonumber(redis.call('HGET', KEYS[3], string.format('%d', v % ml)) or '0') end
  out[#out + 1] = v
  out[#out + 1] = created
  out[#out + 1] = pre
end
return out
