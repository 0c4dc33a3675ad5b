-- checkout.lua moves a held hold to checkout with the checkout deadline; a hold in checkout comes back unchanged.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 hold. ARGV: 1 hold id.
local id = ARGV[1]
local cotl = redis.call('HGET', K_META, 'cotl')
if not cotl then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local h = target_hold(id, now)
if not h then return fail('NOT_FOUND', 'hold') end
if h[1] == 'confirmed' then return fail('INVALID_STATE', h[1]) end
if h[1] == 'held' then
  local ex = now + tonumber(cotl)
  redis.call('HSET', KEYS[4], 'st', 'checkout', 'ex', ex)
  redis.call('ZADD', K_DEADLINE, ex, id)
elseif h[1] ~= 'checkout' then
  return fail('HOLD_EXPIRED', h[1])
end
return hold_reply(KEYS[4])
