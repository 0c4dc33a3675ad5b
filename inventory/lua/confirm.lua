-- confirm.lua sells a hold in checkout (or held, before its deadline): its units move from held to sold.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 hold, 5 confirmed set. ARGV: 1 hold id.
local id = ARGV[1]
local cur = redis.call('HGET', K_META, 'cur')
if not cur then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local h = target_hold(id, now)
if not h then return fail('NOT_FOUND', 'hold') end
if h.st == 'held' or h.st == 'checkout' then
  -- The fan's units (live and bought) stay; the bought part grows.
  redis.call('INCRBY', P .. 'bought:' .. h.fan, move_held(h, 'sold', 's'))
  h.st = 'confirmed'
  write_hold(KEYS[4], h) -- a live hold has no expiry, and SET would drop one
  redis.call('ZREM', K_DEADLINE, id)
  redis.call('SADD', KEYS[5], id)
elseif h.st ~= 'confirmed' then
  return fail('HOLD_EXPIRED', h.st)
end
return hold_reply(h, cur)
