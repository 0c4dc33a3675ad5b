-- claim: an admitted fan takes up its access; the first claim fixes the access deadline and counts the place
-- active until min(deadline, now + idle). Later claims change nothing. Nothing is claimed in a closed event.
-- KEYS: 1 q:state, 2 q:fans:<bucket>, 3 q:serving, 4 q:active, 5 q:claims
-- ARGV: 1 fan field, 2 lane, 3 seq, 4 pos, 5 now ms, 6 ttl ms, 7 MaxLanes, 8 idle ms
local st = redis.call('HMGET', KEYS[1], 'ver', 'closed')
if not st[1] then return redis.error_reply('NOTFOUND') end
if st[2] then return redis.error_reply('CLOSED') end
local lane, seq, pos, now = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v or tonumber(v) ~= seq * tonumber(ARGV[7]) + tonumber(lane) then return {-1, 0} end
if pos < 1 or pos > tonumber(redis.call('HGET', KEYS[3], lane) or '0') then return {-1, 0} end
local m = lane .. ':' .. ARGV[4]
local d = redis.call('HGET', KEYS[5], m)
if d then
  d = tonumber(d)
  if d == 0 or d <= now then return {-1, 0} end
  return {d, 0}
end
d = now + tonumber(ARGV[6])
redis.call('HSET', KEYS[5], m, string.format('%d', d))
redis.call('ZADD', KEYS[4], math.min(d, now + tonumber(ARGV[8])), m)
return {d, 1}
