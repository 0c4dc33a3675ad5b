-- extend.lua pushes a held hold's deadline: min(now + HoldTTL, CreatedAt + MaxHoldLife).
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 hold. ARGV: 1 hold id.
local id = ARGV[1]
local ttl = redis.call('HGET', K_META, 'ttl')
if not ttl then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local h = target_hold(id, now)
if not h then return fail('NOT_FOUND', 'hold') end
if h[1] == 'checkout' then return fail('INVALID_STATE', h[1]) end
if h[1] ~= 'held' then return fail('HOLD_EXPIRED', h[1]) end
local ex = math.min(now + tonumber(ttl), tonumber(h[6]))
redis.call('HSET', KEYS[4], 'ex', ex)
redis.call('ZADD', K_DEADLINE, ex, id)
return hold_reply(KEYS[4])
