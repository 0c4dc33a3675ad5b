-- leave: free a fan's place. Before the draw a pre-queue place is recorded by join number (lp); otherwise a
-- waiting place becomes a hole (left) and an admitted one stops counting as active and cannot be claimed.
-- KEYS: 1 q:state, 2 q:pre, 3 q:fans:<bucket>, 4 q:serving, 5 q:left, 6 q:leftcount, 7 q:preleft, 8 q:active, 9 q:claims
-- ARGV: 1 fan field, 2 lane, 3 seq, 4 pos, 5 MaxLanes
if not redis.call('HGET', KEYS[1], 'ver') then return redis.error_reply('NOTFOUND') end
local lane, seq, pos, ml = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HGET', KEYS[3], ARGV[1])
if not v or tonumber(v) ~= seq * ml + tonumber(lane) then return 'GONE' end
local frozen = redis.call('HGET', KEYS[1], 'frozen')
local pre = tonumber(redis.call('HGET', KEYS[2], lane) or '0')
if not frozen or seq <= pre then
  if not redis.call('HGET', KEYS[1], 'seed') then
    redis.call('HDEL', KEYS[3], ARGV[1])
    redis.call('SADD', KEYS[7], lane .. ':' .. ARGV[3])
    return 'OK'
  end
  if pos <= 0 then return 'NEEDPOS' end
else
  pos = seq
end
redis.call('HDEL', KEYS[3], ARGV[1])
local m = lane .. ':' .. string.format('%d', pos)
if pos <= tonumber(redis.call('HGET', KEYS[4], lane) or '0') then
  redis.call('ZREM', KEYS[8], m)
  redis.call('HSET', KEYS[9], m, '0')
elseif redis.call('SADD', KEYS[5], m) == 1 then
  redis.call('HINCRBY', KEYS[6], lane, 1)
end
return 'OK'
