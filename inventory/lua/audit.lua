-- audit.lua takes one consistent snapshot of what Audit compares: the counters and seat strings of every section,
-- the live holds (deadline zset) and confirmed holds, and the fans' counters. The comparison runs in Go.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 confirmed set.
-- Returns {sections, holds, fans}: sections = {id, cap, avail, held, sold, wh, kind, seat string}…,
-- holds = {id, state, units, alloc, fan, zset member "1"/"0"}…, fans = {fan, held (its units less bought), bought}….
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
  local h = read_hold(P .. 'hold:' .. id)
  if not h then
    ho[#ho + 1] = { id, '', '0', '', '', member }
    return
  end
  -- The recorded units are the lines' (what the fan pays for); Audit checks them against the allocation.
  local units = line_sums(h.lines)
  ho[#ho + 1] = { id, h.st, units, h.alloc, h.fan, member }
  if not fans[h.fan] then
    fans[h.fan] = true
    local f = redis.call('MGET', P .. 'fan:' .. h.fan, P .. 'bought:' .. h.fan)
    local bought = tonumber(f[2]) or 0
    fo[#fo + 1] = { h.fan, (tonumber(f[1]) or 0) - bought, bought }
  end
end
for _, id in ipairs(redis.call('ZRANGE', K_DEADLINE, 0, -1)) do add(id, 'deadline') end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do add(id, 'confirmed') end
return { so, ho, fo }
