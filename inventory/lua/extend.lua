-- extend.lua pushes a held hold's deadline: min(now + HoldTTL, CreatedAt + MaxHoldLife).
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 hold. ARGV: 1 hold id.
local id = ARGV[1]
local meta = redis.call('HMGET', K_META, 'ttl', 'maxlife', 'cur')
if not meta[1] then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local h = target_hold(id, now)
if not h then return fail('NOT_FOUND', 'hold') end
if h.st == 'checkout' then return fail('INVALID_STATE', h.st) end
if h.st ~= 'held' then return fail('HOLD_EXPIRED', h.st) end
local ex = math.min(now + tonumber(meta[1]), h.ca + tonumber(meta[2]))
h.ex = ex
write_hold(KEYS[4], h)
redis.call('ZADD', K_DEADLINE, ex, id)
-- The meta's due stays at most the earliest deadline (see common.lua).
local due = tonumber(redis.call('HGET', K_META, 'due'))
if due and ex < due then redis.call('HSET', K_META, 'due', ex) end
return hold_reply(h, meta[3])
