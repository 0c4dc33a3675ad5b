-- touch: the fan of a claimed place is still there; it counts as active until min(access deadline, now + idle),
-- never less than before. A place that stopped counting (idle too long, finished, expired) is not counted again.
-- KEYS: 1 q:active, 2 q:claims
-- ARGV: 1 member "lane:pos", 2 now ms, 3 idle ms
local now = tonumber(ARGV[2])
local d = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if d <= now then return 0 end
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) <= now then return 0 end
local n = math.min(d, now + tonumber(ARGV[3]))
if n > tonumber(s) then redis.call('ZADD', KEYS[1], n, ARGV[1]) end
return 1
