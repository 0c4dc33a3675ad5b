-- view: an event's live state in one round trip (read only).
-- KEYS: 1 q:state, 2 q:seq, 3 q:serving, 4 q:pre, 5 q:leftcount, 6 q:preleft, 7 q:active
-- ARGV: 1 now ms
local st = redis.call('HGETALL', KEYS[1])
if #st == 0 then return redis.error_reply('NOTFOUND') end
return {st, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4]),
  redis.call('HGETALL', KEYS[5]), redis.call('SCARD', KEYS[6]), redis.call('ZCOUNT', KEYS[7], '(' .. ARGV[1], '+inf')}
