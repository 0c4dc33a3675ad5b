-- wave.lua makes withheld units buyable, once per wave id. A seated section's withheld seats are the last ones in
-- row order, so they are always a suffix of its seat string; a release frees them from the front of that suffix.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 applied waves set, then per section its counters hash and seat string.
-- ARGV: 1 wave id, then per section: section id, units.
if redis.call('EXISTS', K_META) == 0 then return fail('NOT_FOUND', 'event') end
local n = (#KEYS - 4) / 2
local secs = {}
for i = 1, n do
  local f = redis.call('HMGET', KEYS[3 + 2 * i], 'kind', 'cap', 'wh')
  if not f[1] then return fail('INVALID', 'unknown section ' .. ARGV[2 * i]) end
  secs[i] = { key = KEYS[3 + 2 * i], seatkey = KEYS[4 + 2 * i], kind = f[1], cap = tonumber(f[2]), wh = tonumber(f[3]),
    want = tonumber(ARGV[2 * i + 1]) }
end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return 0 end
reclaim(now_ms(), 16)
local moved = 0
for _, s in ipairs(secs) do
  local k = math.min(s.want, s.wh)
  if k > 0 then
    redis.call('HINCRBY', s.key, 'wh', -k)
    redis.call('HINCRBY', s.key, 'avail', k)
    redis.call('HINCRBY', s.key, 'ver', 1)
    if s.kind == 'seated' then redis.call('SETRANGE', s.seatkey, s.cap - s.wh, string.rep('0', k)) end
    s.wh = s.wh - k
    moved = moved + k
  end
end
redis.call('SADD', KEYS[4], ARGV[1])
return moved
