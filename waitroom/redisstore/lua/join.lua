-- join: give a fan a place, or its place back; freeze the pre-queue sizes at the first join after open. A closed
-- event gives no place.
-- KEYS: 1 q:state, 2 q:seq, 3 q:pre, 4 q:fans:<bucket>
-- ARGV: 1 fan field, 2 lane, 3 now ms, 4 open ms, 5 MaxLanes
local st = redis.call('HMGET', KEYS[1], 'ver', 'frozen', 'closed')
if not st[1] then return redis.error_reply('NOTFOUND') end
if st[3] then return redis.error_reply('CLOSED') end
local frozen = st[2]
if not frozen and tonumber(ARGV[3]) >= tonumber(ARGV[4]) then
  local all = redis.call('HGETALL', KEYS[2])
  if #all > 0 then redis.call('HSET', KEYS[3], unpack(all)) end
  redis.call('HSET', KEYS[1], 'frozen', '1')
  frozen = '1'
end
local ml = tonumber(ARGV[5])
local v = redis.call('HGET', KEYS[4], ARGV[1])
local created = 0
if v then
  v = tonumber(v)
else
  local s = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  v = s * ml + tonumber(ARGV[2])
  redis.call('HSET', KEYS[4], ARGV[1], string.format('%d', v))
  created = 1
end
local pre = -1
if frozen then pre = tonumber(redis.call('HGET', KEYS[3], string.format('%d', v % ml)) or '0') end
return {v, created, pre}
