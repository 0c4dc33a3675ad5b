-- hold.lua takes units out of sale for one or more fans of one event: a batch of holds in one call. Each hold is all
-- or nothing on its own and the holds are served in order, exactly as if each had been its own script call, but the
-- batch shares the call's overhead, the clock, the event's meta and the section reads.
-- KEYS: 1 prefix, 2 meta, 3 deadline, then per hold: fan, idempotency key, new hold, and for each section the hold
--       names (in its ARGV order) the counters hash and the seat string.
-- ARGV: 1 K = number of holds, then per hold: hold id, fan, "1" when an idempotency key is set, fingerprint,
--       S = number of sections, S section ids, N = number of named seats, N triples (section index, row, seat number),
--       M = number of items, M triples (section index, quantity, adjacent "1"/"0").
-- Returns one entry per hold: {"new"|"replay", id, state, lines, seats, total, currency, created, expires, units} or
-- {"ERR", "<CODE> <detail>"}.
-- The caller has checked what needs no stored state: quantities > 0, at most 100 units, seat ids parse, no seat twice.
local K = tonumber(ARGV[1])
local meta = redis.call('HMGET', K_META, 'ttl', 'maxlife', 'maxfan', 'cur')
if not meta[1] then
  local out = {}
  for i = 1, K do out[i] = { 'ERR', 'NOT_FOUND event' } end
  return out
end
local ttl, maxlife, maxfan, cur = tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3]), meta[4]

local cache = {} -- section key → section: definition, counters as they stand within this call, seat string
local function section(sk, tk, id)
  local s = cache[sk]
  if s then return s end
  local f = redis.call('HMGET', sk, 'kind', 'avail', 'held', 'ver', 'price', 'rows')
  if not f[1] then return nil end
  s = { id = id, key = sk, seatkey = tk, kind = f[1], avail = tonumber(f[2]), held = tonumber(f[3]),
    ver = tonumber(f[4]), price = tonumber(f[5]) }
  if s.kind == 'seated' then
    s.rows, s.byrow = {}, {}
    for label, off, n in string.gmatch(f[6], '([^:,]+):(%d+):(%d+)') do
      local r = { label = label, off = tonumber(off), n = tonumber(n) }
      s.rows[#s.rows + 1] = r
      s.byrow[label] = r
    end
  end
  cache[sk] = s
  return s
end
local function seatstr(s)
  if not s.str then s.str = redis.call('GET', s.seatkey) or '' end
  return s.str
end
local function take(s, p, len)
  s.str = string.sub(s.str, 1, p) .. string.rep('h', len) .. string.sub(s.str, p + len + 1)
end

-- best returns the 0-based positions of q seats of section s as "best available" says, or nil: the first clean
-- placement (a free run of length L >= q with L == q or L - q >= 2) in row order then run order, else the first
-- placement at all, else (not adjacent) the first q free seats in row and seat order.
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

local function seat_id(s, p)
  for _, r in ipairs(s.rows) do
    if p < r.off + r.n then return s.id .. '-' .. r.label .. '-' .. (p - r.off + 1) end
  end
end

local now
local dirty, dirtyList, deadlines = {}, {}, {}

-- hold_one serves one hold whose keys start at KEYS[kb] and arguments at ARGV[ab]; it returns the reply entry and the
-- index of the next hold's first argument.
local function hold_one(kb, ab)
  local id, fan, useIdem, fp = ARGV[ab], ARGV[ab + 1], ARGV[ab + 2], ARGV[ab + 3]
  local S = tonumber(ARGV[ab + 4])
  local a = ab + 5 + S
  local N = tonumber(ARGV[a])
  local m = a + 3 * N + 1
  local M = tonumber(ARGV[m])
  local nextArg = m + 3 * M + 1
  local K_FAN, K_IDEM, K_HOLD = KEYS[kb], KEYS[kb + 1], KEYS[kb + 2]

  -- Validate against the definition, before anything changes.
  local secs = {}
  for i = 1, S do
    local s = section(KEYS[kb + 1 + 2 * i], KEYS[kb + 2 + 2 * i], ARGV[ab + 4 + i])
    if not s then return { 'ERR', 'INVALID unknown section ' .. ARGV[ab + 4 + i] }, nextArg end
    secs[i] = s
  end
  local named = {}
  for j = 1, N do
    local s = secs[tonumber(ARGV[a + 3 * j - 2])]
    local label, n = ARGV[a + 3 * j - 1], tonumber(ARGV[a + 3 * j])
    if s.kind ~= 'seated' then return { 'ERR', 'INVALID seat in general section ' .. s.id }, nextArg end
    local r = s.byrow[label]
    if not r or n < 1 or n > r.n then
      return { 'ERR', 'INVALID unknown seat ' .. s.id .. '-' .. label .. '-' .. n }, nextArg
    end
    named[j] = { sec = s, pos = r.off + n - 1, sid = s.id .. '-' .. label .. '-' .. n }
  end
  local items = {}
  for j = 1, M do
    local s = secs[tonumber(ARGV[m + 3 * j - 2])]
    local q, adj = tonumber(ARGV[m + 3 * j - 1]), ARGV[m + 3 * j] == '1'
    if adj and s.kind ~= 'seated' then return { 'ERR', 'INVALID adjacent on general section ' .. s.id }, nextArg end
    items[j] = { sec = s, q = q, adj = adj }
  end

  -- Lazy expiry, once per call, before the first valid hold: up to 16 per hold of the batch (at most 256, so a large
  -- batch never blocks the server for long; the sweeper reclaims the rest).
  if not now then
    now = now_ms()
    if reclaim(now, math.min(16 * K, 256)) > 0 then
      for _, s in pairs(cache) do
        local f = redis.call('HMGET', s.key, 'avail', 'held', 'ver')
        s.avail, s.held, s.ver = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
        s.str = nil
      end
    end
  end

  if useIdem == '1' then
    local v = redis.call('GET', K_IDEM)
    if v then
      local nl = string.find(v, '\n', 1, true)
      if string.sub(v, nl + 1) ~= fp then return { 'ERR', 'IDEM_REUSED' }, nextArg end
      local prevID = string.sub(v, 1, nl - 1)
      local h = redis.call('HMGET', P .. 'hold:' .. prevID, 'st', 'lines', 'seats', 'total', 'cur', 'ca', 'ex', 'units')
      if h[1] then
        return { 'replay', prevID, h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8] }, nextArg
      end
    end
  end

  local units = N
  for j = 1, M do units = units + items[j].q end
  local fh = redis.call('HMGET', K_FAN, 'held', 'bought')
  if units + (tonumber(fh[1]) or 0) + (tonumber(fh[2]) or 0) > maxfan then
    return { 'ERR', 'LIMIT_EXCEEDED' }, nextArg
  end

  -- Availability on the sections' local state, undone if the hold fails: named seats first, then items in order.
  local saved = {}
  for i = 1, S do
    local s = secs[i]
    if not saved[s] then
      saved[s] = { avail = s.avail, str = s.str }
      s.units, s.pos = 0, {}
    end
  end
  local function undo(code)
    for s, v in pairs(saved) do s.avail, s.str = v.avail, v.str end
    return { 'ERR', code }, nextArg
  end
  local seatids = {}
  for j = 1, N do
    local x = named[j]
    local str = seatstr(x.sec)
    if string.sub(str, x.pos + 1, x.pos + 1) ~= '0' then return undo('SEATS_UNAVAILABLE ' .. x.sid) end
    take(x.sec, x.pos, 1)
    x.sec.avail = x.sec.avail - 1
    x.sec.units = x.sec.units + 1
    x.sec.pos[#x.sec.pos + 1] = x.pos
    seatids[#seatids + 1] = x.sid
  end
  for j = 1, M do
    local it = items[j]
    local s = it.sec
    if it.q > s.avail then return undo('SOLD_OUT ' .. s.id) end
    if s.kind == 'seated' then
      local got, run = best(s, it.q, it.adj)
      if not got then return undo('SOLD_OUT ' .. s.id) end
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

  -- Every check passed: write. Lines follow the sections' first appearance, named seats first.
  local lines, allocs, order, seen = {}, {}, {}, {}
  for j = 1, N do
    local s = named[j].sec
    if not seen[s] then seen[s] = true; order[#order + 1] = s end
  end
  for j = 1, M do
    local s = items[j].sec
    if not seen[s] then seen[s] = true; order[#order + 1] = s end
  end
  local total = 0
  for _, s in ipairs(order) do
    s.held = s.held + s.units
    s.ver = s.ver + 1
    if not dirty[s] then dirty[s] = true; dirtyList[#dirtyList + 1] = s end
    if #s.pos > 0 then
      table.sort(s.pos)
      set_seats(s.seatkey, s.pos, 'h')
    end
    lines[#lines + 1] = s.id .. ':' .. s.units .. ':' .. s.price
    allocs[#allocs + 1] = s.id .. '|' .. s.units .. '|' .. table.concat(s.pos, ',')
    total = total + s.units * s.price
  end
  local ex = now + ttl
  local ls, ss = table.concat(lines, ';'), table.concat(seatids, ' ')
  redis.call('HSET', K_HOLD, 'fan', fan, 'st', 'held', 'lines', ls, 'seats', ss, 'total', total, 'cur', cur,
    'ca', now, 'ex', ex, 'ml', now + maxlife, 'units', units, 'alloc', table.concat(allocs, ';'))
  deadlines[#deadlines + 1] = ex
  deadlines[#deadlines + 1] = id
  redis.call('HINCRBY', K_FAN, 'held', units)
  if useIdem == '1' then redis.call('SET', K_IDEM, id .. '\n' .. fp, 'EX', 86400) end
  return { 'new', id, 'held', ls, ss, total, cur, now, ex, units }, nextArg
end

local out, kb, ab = {}, 4, 2
for i = 1, K do
  local S = tonumber(ARGV[ab + 4])
  local r
  r, ab = hold_one(kb, ab)
  kb = kb + 3 + 2 * S
  out[i] = r
end
for _, s in ipairs(dirtyList) do
  redis.call('HSET', s.key, 'avail', s.avail, 'held', s.held, 'ver', s.ver)
end
if #deadlines > 0 then redis.call('ZADD', K_DEADLINE, unpack(deadlines)) end
return out
