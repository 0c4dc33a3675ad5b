-- finish: an admitted place stops counting as active at once and cannot be claimed again.
-- KEYS: 1 q:state, 2 q:serving, 3 q:active, 4 q:claims
-- ARGV: 1 lane, 2 pos
if not redis.call('HGET', KEYS[1], 'ver') then return redis.error_reply('NOTFOUND') end
local pos = tonumber(ARGV[2])
if pos < 1 or pos > tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') then return 0 end
local m = ARGV[1] .. ':' .. ARGV[2]
redis.call('ZREM', KEYS[3], m)
redis.call('HSET', KEYS[4], m, '0')
return 1
