-- audit.lua takes one consistent snapshot of what Audit compares: the counters and seat strings of every section,
-- the live holds (deadline zset) and confirmed holds, and the fans' counters. The comparison runs in Go.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 confirmed set.
-- Returns {sections, holds, fans}: sections = {id, cap, avail, held, sold, wh, kind, seat string}…,
-- holds = {id, state, units, alloc, fan, zset member "1"/"0"}…, fans = {fan, held, bought}….
local secs = redis.call('HGET', K_META, 'secs')
if not secs then return fail('NOT_FOUND', 'event') end
local so = {}
for _, id in ipairs(split(secs, ',')) do
  local f = redis.call('HMGET', P .. 'sec:' .. id, 'cap', 'avail', 'held', 'sold', 'wh', 'kind')
  so[#so + 1] = { id, f[1] or '', f[2] or '', f[3] or '', f[4] or '', f[5] or '', f[6] or '',
    f[6] == 'seated' and (redis.call('GET', P .. 'seats:' .. id) or '') or '' }
end
local ho, fans, fo = {}, {}, {}
local function add(id, member)
  local h = redis.call('HMGET', P .. 'hold:' .. id, 'st', 'units', 'alloc', 'fan')
  ho[#ho + 1] = { id, h[1] or '', h[2] or '0', h[3] or '', h[4] or '', member }
  if h[4] and not fans[h[4]] then
    fans[h[4]] = true
    local f = redis.call('HMGET', P .. 'fan:' .. h[4], 'held', 'bought')
    fo[#fo + 1] = { h[4], f[1] or '0', f[2] or '0' }
  end
end
for _, id in ipairs(redis.call('ZRANGE', K_DEADLINE, 0, -1)) do add(id, 'deadline') end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do add(id, 'confirmed') end
return { so, ho, fo }
