-- release.lua gives a live hold's units back to sale at once. A released or expired hold comes back unchanged.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 hold. ARGV: 1 hold id.
local id = ARGV[1]
local cur = redis.call('HGET', K_META, 'cur')
if not cur then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local h = target_hold(id, now)
if not h then return fail('NOT_FOUND', 'hold') end
if h.st == 'confirmed' then return fail('INVALID_STATE', h.st) end
if h.st == 'held' or h.st == 'checkout' then free_hold(id, 'released', h) end
return hold_reply(h, cur)
