-- release.lua gives a live hold's units back to sale at once. A released or expired hold comes back unchanged.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 hold. ARGV: 1 hold id.
local id = ARGV[1]
if redis.call('EXISTS', K_META) == 0 then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local h = target_hold(id, now)
if not h then return fail('NOT_FOUND', 'hold') end
if h[1] == 'confirmed' then return fail('INVALID_STATE', h[1]) end
if h[1] == 'held' or h[1] == 'checkout' then free_hold(id, 'released') end
return hold_reply(KEYS[4])
