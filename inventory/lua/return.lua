-- return.lua puts a confirmed hold's units back on sale (a refund, a cancelled event, a failed capture): its units
-- move from sold to available, its seats are free, the fan's units and bought units drop, and it becomes released.
-- A released or expired hold comes back unchanged; a live one fails. The record keeps no expiry, as a sold one, so
-- that Restore keeps finding it known.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 hold, 5 confirmed set. ARGV: 1 hold id.
local id = ARGV[1]
local cur = redis.call('HGET', K_META, 'cur')
if not cur then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local h = target_hold(id, now)
if not h then return fail('NOT_FOUND', 'hold') end
if h.st == 'held' or h.st == 'checkout' then return fail('INVALID_STATE', h.st) end
if h.st ~= 'confirmed' then return hold_reply(h, cur) end
-- Each section must still count the hold's units as sold, so that no counter goes negative.
local al, need = parse_alloc(h.alloc), {}
for _, a in ipairs(al) do
  need[a.sec] = (need[a.sec] or 0) + a.n
  local sold = tonumber(redis.call('HGET', P .. 'sec:' .. a.sec, 'sold'))
  if not sold or sold < need[a.sec] then
    return redis.error_reply('CORRUPT hold ' .. id .. ': section ' .. a.sec .. ' has not sold its units')
  end
end
local units = 0
for _, a in ipairs(al) do
  local sk = P .. 'sec:' .. a.sec
  redis.call('HINCRBY', sk, 'sold', -a.n)
  redis.call('HINCRBY', sk, 'avail', a.n)
  redis.call('HINCRBY', sk, 'ver', 1)
  if #a.pos > 0 then
    table.sort(a.pos)
    set_seats(P .. 'seats:' .. a.sec, a.pos, '0')
  end
  units = units + a.n
end
redis.call('DECRBY', P .. 'fan:' .. h.fan, units)
redis.call('DECRBY', P .. 'bought:' .. h.fan, units)
h.st = 'released'
write_hold(KEYS[4], h) -- SET leaves the record without expiry
redis.call('SREM', KEYS[5], id)
return hold_reply(h, cur)
