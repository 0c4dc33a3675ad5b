-- stats.lua reads every section's counters of an event at one instant. It names the section keys from KEYS[1]
-- (same hash tag, same slot) because the section list is stored with the event.
-- KEYS: 1 prefix, 2 meta, 3 deadline. Returns "1" when the event is cancelled, else "0", then per section: id, cap,
-- avail, held, sold, wh, ver, price.
local meta = redis.call('HMGET', K_META, 'secs', 'closed')
local secs = meta[1]
if not secs then return fail('NOT_FOUND', 'event') end
local out = { meta[2] and '1' or '0' }
for _, id in ipairs(split(secs, ',')) do
  local f = redis.call('HMGET', P .. 'sec:' .. id, 'cap', 'avail', 'held', 'sold', 'wh', 'ver', 'price')
  out[#out + 1] = id
  for k = 1, 7 do out[#out + 1] = f[k] or '0' end
end
return out
