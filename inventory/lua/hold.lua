-- hold.lua takes units out of sale for a fan, all or nothing.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 fan, 5 idempotency key, 6 new hold, then for each section the request
--       names (in ARGV order): its counters hash and its seat string.
-- ARGV: 1 hold id, 2 fan, 3 "1" when an idempotency key is set, 4 fingerprint, 5 S = number of sections,
--       6..5+S section ids, then N = number of named seats followed by N triples (section index, row, seat number),
--       then M = number of items followed by M triples (section index, quantity, adjacent "1"/"0").
-- The caller has checked what needs no stored state: quantities > 0, at most 100 units, seat ids parse, no seat twice.
local id, fan = ARGV[1], ARGV[2]
local S = tonumber(ARGV[5])
local meta = redis.call('HMGET', K_META, 'ttl', 'maxlife', 'maxfan', 'cur')
if not meta[1] then return fail('NOT_FOUND', 'event') end

-- Sections: definition and counters.
local secs = {}
for i = 1, S do
  local sk, tk = KEYS[5 + 2 * i], KEYS[6 + 2 * i]
  local f = redis.call('HMGET', sk, 'kind', 'avail', 'held', 'ver', 'price', 'rows')
  if not f[1] then return fail('INVALID', 'unknown section ' .. ARGV[5 + i]) end
  local s = { id = ARGV[5 + i], key = sk, seatkey = tk, kind = f[1], avail = tonumber(f[2]), held = tonumber(f[3]),
    ver = tonumber(f[4]), price = tonumber(f[5]), units = 0, pos = {} }
  if s.kind == 'seated' then
    s.rows, s.byrow = {}, {}
    for label, off, n in string.gmatch(f[6], '([^:,]+):(%d+):(%d+)') do
      local r = { label = label, off = tonumber(off), n = tonumber(n) }
      s.rows[#s.rows + 1] = r
      s.byrow[label] = r
    end
  end
  secs[i] = s
end

-- Validate named seats and items against the definition.
local a = 6 + S
local N = tonumber(ARGV[a])
local named = {}
for j = 1, N do
  local s = secs[tonumber(ARGV[a + 3 * j - 2])]
  local label, n = ARGV[a + 3 * j - 1], tonumber(ARGV[a + 3 * j])
  if s.kind ~= 'seated' then return fail('INVALID', 'seat in general section ' .. s.id) end
  local r = s.byrow[label]
  if not r or n < 1 or n > r.n then return fail('INVALID', 'unknown seat ' .. s.id .. '-' .. label .. '-' .. n) end
  named[j] = { sec = s, pos = r.off + n - 1, sid = s.id .. '-' .. label .. '-' .. n }
end
a = a + 3 * N + 1
local M = tonumber(ARGV[a])
local items = {}
for j = 1, M do
  local s = secs[tonumber(ARGV[a + 3 * j - 2])]
  local q, adj = tonumber(ARGV[a + 3 * j - 1]), ARGV[a + 3 * j] == '1'
  if adj and s.kind ~= 'seated' then return fail('INVALID', 'adjacent on general section ' .. s.id) end
  items[j] = { sec = s, q = q, adj = adj }
end

-- Lazy expiry, then the counters may have moved.
local now = now_ms()
if reclaim(now, 16) > 0 then
  for i = 1, S do
    local s = secs[i]
    local f = redis.call('HMGET', s.key, 'avail', 'held', 'ver')
    s.avail, s.held, s.ver = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
  end
end

-- Idempotency replay.
local K_FAN, K_IDEM, K_HOLD = KEYS[4], KEYS[5], KEYS[6]
if ARGV[3] == '1' then
  local v = redis.call('GET', K_IDEM)
  if v then
    local nl = string.find(v, '\n', 1, true)
    if string.sub(v, nl + 1) ~= ARGV[4] then return fail('IDEM_REUSED') end
    local prevID = string.sub(v, 1, nl - 1)
    local prev = hold_reply(P .. 'hold:' .. prevID)
    if #prev > 0 then
      table.insert(prev, 1, prevID)
      table.insert(prev, 1, 'replay')
      return prev
    end
  end
end

-- Per-fan limit.
local units = N
for j = 1, M do units = units + items[j].q end
local fh = redis.call('HMGET', K_FAN, 'held', 'bought')
if units + (tonumber(fh[1]) or 0) + (tonumber(fh[2]) or 0) > tonumber(meta[3]) then return fail('LIMIT_EXCEEDED') end

-- Availability, on a local copy of the seat strings: named seats first, then the items in request order.
local function seatstr(s)
  if not s.str then s.str = redis.call('GET', s.seatkey) or '' end
  return s.str
end
local function take(s, p, len)
  s.str = string.sub(s.str, 1, p) .. string.rep('h', len) .. string.sub(s.str, p + len + 1)
end
local seatids = {}
for j = 1, N do
  local x = named[j]
  local str = seatstr(x.sec)
  if string.sub(str, x.pos + 1, x.pos + 1) ~= '0' then return fail('SEATS_UNAVAILABLE', x.sid) end
  take(x.sec, x.pos, 1)
  x.sec.avail = x.sec.avail - 1
  x.sec.units = x.sec.units + 1
  x.sec.pos[#x.sec.pos + 1] = x.pos
  seatids[#seatids + 1] = x.sid
end

-- best returns the 0-based start positions of q seats of section s, as algo "best available" says, or nil.
local function best(s, q, adj)
  local str = seatstr(s)
  local first
  for _, r in ipairs(s.rows) do
    if r.n >= q then
      local rs = string.sub(str, r.off + 1, r.off + r.n)
      local init = 1
      while true do
        local x, y = string.find(rs, '0+', init)
        if not x then break end
        local L = y - x + 1
        if L >= q then
          if L == q or L - q >= 2 then return { r.off + x - 1 }, true end
          if not first then first = r.off + x - 1 end
        end
        init = y + 1
      end
    end
  end
  if first then return { first }, true end
  if adj then return nil end
  local out, init = {}, 1
  while #out < q do
    local x = string.find(str, '0', init, true)
    if not x then return nil end
    out[#out + 1] = x - 1
    init = x + 1
  end
  return out, false
end

-- seat_id names the seat at 0-based position p of section s.
local function seat_id(s, p)
  for _, r in ipairs(s.rows) do
    if p < r.off + r.n then return s.id .. '-' .. r.label .. '-' .. (p - r.off + 1) end
  end
end

for j = 1, M do
  local it = items[j]
  local s = it.sec
  if it.q > s.avail then return fail('SOLD_OUT', s.id) end
  if s.kind == 'seated' then
    local got, run = best(s, it.q, it.adj)
    if not got then return fail('SOLD_OUT', s.id) end
    local ps = {}
    if run then
      for k = 0, it.q - 1 do ps[#ps + 1] = got[1] + k end
      take(s, got[1], it.q)
    else
      ps = got
      for _, p in ipairs(ps) do take(s, p, 1) end
    end
    for _, p in ipairs(ps) do
      s.pos[#s.pos + 1] = p
      seatids[#seatids + 1] = seat_id(s, p)
    end
  end
  s.avail = s.avail - it.q
  s.units = s.units + it.q
end

-- Every check passed: write.
local lines, allocs, order, seen = {}, {}, {}, {}
for j = 1, N do
  local s = named[j].sec
  if not seen[s.id] then seen[s.id] = true; order[#order + 1] = s end
end
for j = 1, M do
  local s = items[j].sec
  if not seen[s.id] then seen[s.id] = true; order[#order + 1] = s end
end
local total = 0
for _, s in ipairs(order) do
  redis.call('HSET', s.key, 'avail', s.avail, 'held', s.held + s.units, 'ver', s.ver + 1)
  if #s.pos > 0 then
    table.sort(s.pos)
    set_seats(s.seatkey, s.pos, 'h')
  end
  lines[#lines + 1] = s.id .. ':' .. s.units .. ':' .. s.price
  allocs[#allocs + 1] = s.id .. '|' .. s.units .. '|' .. table.concat(s.pos, ',')
  total = total + s.units * s.price
end
local ex = now + tonumber(meta[1])
local fields = { 'fan', fan, 'st', 'held', 'lines', table.concat(lines, ';'), 'seats', table.concat(seatids, ' '),
  'total', total, 'cur', meta[4], 'ca', now, 'ex', ex, 'ml', now + tonumber(meta[2]), 'units', units,
  'alloc', table.concat(allocs, ';') }
redis.call('HSET', K_HOLD, unpack(fields))
redis.call('ZADD', K_DEADLINE, ex, id)
redis.call('HINCRBY', K_FAN, 'held', units)
if ARGV[3] == '1' then redis.call('SET', K_IDEM, id .. '\n' .. ARGV[4], 'EX', 86400) end
table.insert(fields, 1, id)
table.insert(fields, 1, 'new')
return fields
