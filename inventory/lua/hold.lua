-- hold.lua takes units out of sale for one or more fans of one event: a batch of holds in one call. Each hold is all
-- or nothing on its own and the holds are served in order, exactly as if each had been its own script call, but the
-- batch shares the call's overhead, the clock, the event's meta and the section reads.
-- KEYS: 1 prefix, 2 meta, 3 deadline, then for each of the batch's B sections its counters hash and seat string, then
--       per hold: fan, idempotency key (the bare "<prefix>idem:" when the hold has none), new hold. The hold id and
--       the fan are read from their keys.
-- ARGV: 1 K = number of holds, 2 B, B section ids, then per hold: request fingerprint, N = number of named seats,
--       N triples (section, row, seat number), M = number of items, M triples (section, quantity, adjacent "1"/"0"),
--       sections as indexes into the batch's 1..B.
-- Returns one entry per hold: "<lines>\n<seats>" for a new one (its id is in its key, its state held), {"replay", id,
-- state, lines, seats, created, expires} or {"ERR", "<CODE> <detail>"}; then one more, what the call's new holds share:
-- {currency, created, expires} (0, 0 when the call made none).
-- The caller has checked what needs no stored state: quantities > 0, at most 100 units, seat ids parse, no seat twice.
--
-- The per-hold path is kept lean, as it is what a sale's throughput is made of: few arguments per hold, numbers
-- turned into strings once per call and value (Lua formats them with snprintf, and redis.call would too), scratch
-- tables reused, and no redis.call per hold on its common path: the holds of a call share one deadline, written in
-- one ZADD; the fans' units and idempotency keys are read in one MGET; the new holds and the fans' units are written
-- in one MSET (a live hold has no expiry), each section's counters and seat string once. Only an idempotency key
-- (SET with its expiry) and a replay of a hold made before the call (GET) cost a call of their own.
local K = tonumber(ARGV[1])
local meta = redis.call('HMGET', K_META, 'ttl', 'maxfan', 'cur')
if not meta[1] then
  local out = {}
  for i = 1, K do out[i] = { 'ERR', 'NOT_FOUND event' } end
  out[K + 1] = { '', 0, 0 }
  return out
end
local ttl, maxfan, cur = tonumber(meta[1]), tonumber(meta[2]), meta[3]

-- num and str convert small integers once per call.
local numOf, strOf = {}, {}
local function num(s)
  local n = numOf[s]
  if not n then
    n = tonumber(s)
    numOf[s] = n
  end
  return n
end
local function str(n)
  local s = strOf[n]
  if not s then
    s = tostring(n)
    strOf[n] = s
  end
  return s
end

-- The batch's sections: definition, counters as they stand within this call, seat string; false for an unknown one.
local B = tonumber(ARGV[2])
local bsec = {}
for i = 1, B do
  local sk = KEYS[2 + 2 * i]
  local f = redis.call('HMGET', sk, 'kind', 'avail', 'held', 'ver', 'price', 'rows')
  local s = false
  if f[1] then
    s = { id = ARGV[2 + i], key = sk, seatkey = KEYS[3 + 2 * i], seated = f[1] == 'seated', avail = tonumber(f[2]),
      held = tonumber(f[3]), ver = tonumber(f[4]), price = f[5], units = 0, mark = 0, lineOf = {} }
    if s.seated then
      s.rows, s.byrow = {}, {}
      for label, off, n in string.gmatch(f[6], '([^:,]+):(%d+):(%d+)') do
        local r = { label = label, off = tonumber(off), n = tonumber(n) }
        s.rows[#s.rows + 1] = r
        s.byrow[label] = r
      end
    end
  end
  bsec[i] = s
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
-- placement at all, else (not adjacent) the first q free seats in row and seat order. For a run it also returns its
-- row. It searches the section's seat string in place, jumping over full rows with one plain find.
local function best(s, q, adj)
  local str = seatstr(s)
  local first, firstRow
  local nf = 0 -- the next free seat (1-based) at or after the current row's start, as far as known
  for _, r in ipairs(s.rows) do
    local rstart, rend = r.off + 1, r.off + r.n
    if nf < rstart then nf = string.find(str, '0', rstart, true) or #str + 1 end
    if r.n >= q and nf <= rend then
      local init = nf
      while true do
        local x, y = string.find(str, '0+', init)
        if not x or x > rend then
          nf = x or #str + 1
          break
        end
        if y > rend then y = rend end
        local L = y - x + 1
        if L >= q then
          if L == q or L - q >= 2 then return { x - 1 }, true, r end
          if not first then first, firstRow = x - 1, r end
        end
        init = y + 1
      end
    end
  end
  if first then return { first }, true, firstRow end
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

-- bulk runs cmd [key] on the first n values of list, in chunks that fit Lua's stack (pairs stay together), and
-- returns what the chunks return, concatenated (for MGET).
local function bulk(cmd, key, list, n)
  local out = {}
  for from = 1, n, 4000 do
    local to = math.min(from + 3999, n)
    local r
    if key then r = redis.call(cmd, key, unpack(list, from, to)) else r = redis.call(cmd, unpack(list, from, to)) end
    if type(r) == 'table' then
      if from == 1 and to == n then return r end
      for _, v in ipairs(r) do out[#out + 1] = v end
    end
  end
  return out
end

local now, nowS, ex, exS
local dirty, dirtyList, deadlines = {}, {}, {}
-- What the call read or wrote by key: fans' units, idempotency entries; fans to write; new hold records (key,
-- value, …) and the new holds' lines and seats by id (a later hold of the call may replay one).
local fanUnits, idemOf, fanDirty, fanList, recs, nrec, made = {}, {}, {}, {}, {}, 0, {}
-- Scratch, reused by every hold: the hold's sections, their state before it (for undo), its seat ids and lines.
local secs, savedAvail, savedStr, seatids, lines, allocs = {}, {}, {}, {}, {}, {}

-- undo puts the hold's S sections back as they were before it and returns its error entry.
local function undo(S, code)
  for i = 1, S do
    local s = secs[i]
    s.avail, s.str, s.units, s.pos = savedAvail[i], savedStr[i], 0, nil
  end
  return { 'ERR', code }
end

local fanAt, idemLen, holdAt = #P + 5, #P + 5, #P + 6

-- hold_one serves the hold whose keys start at KEYS[kb] and arguments at ARGV[ab]; it returns the reply entry.
-- The hold's sections, in order of first appearance (named seats first), are its S entries of secs.
local function hold_one(kb, ab, mark)
  local K_FAN, K_IDEM, K_HOLD = KEYS[kb], KEYS[kb + 1], KEYS[kb + 2]
  local id, useIdem, fp = string.sub(K_HOLD, holdAt), #K_IDEM > idemLen, ARGV[ab]
  local a = ab + 1
  local N = num(ARGV[a])
  local m = a + 3 * N + 1
  local M = num(ARGV[m])

  -- Validate against the definition, before anything changes.
  local S = 0
  for pass = 1, 2 do
    local from, to = a + 1, a + 3 * N
    if pass == 2 then from, to = m + 1, m + 3 * M end
    for j = from, to, 3 do
      local i = num(ARGV[j])
      local s = bsec[i]
      if not s then return { 'ERR', 'INVALID unknown section ' .. ARGV[2 + i] } end
      if s.mark ~= mark then
        s.mark = mark
        S = S + 1
        secs[S] = s
      end
    end
  end
  for j = a + 1, a + 3 * N, 3 do
    local s = bsec[num(ARGV[j])]
    local label, n = ARGV[j + 1], num(ARGV[j + 2])
    if not s.seated then return { 'ERR', 'INVALID seat in general section ' .. s.id } end
    local r = s.byrow[label]
    if not r or n < 1 or n > r.n then
      return { 'ERR', 'INVALID unknown seat ' .. s.id .. '-' .. label .. '-' .. n }
    end
  end
  local units = N
  for j = m + 1, m + 3 * M, 3 do
    local s = bsec[num(ARGV[j])]
    if ARGV[j + 2] == '1' and not s.seated then
      return { 'ERR', 'INVALID adjacent on general section ' .. s.id }
    end
    units = units + num(ARGV[j + 1])
  end

  -- Lazy expiry, once per call, before the first valid hold: up to 16 per hold of the batch (at most 256, so a large
  -- batch never blocks the server for long; the sweeper reclaims the rest). Then the fans' units and the
  -- idempotency keys of the whole batch in one MGET (after the reclaim, which gives units back); the call keeps them
  -- up to date as it goes and writes the fans' once at the end.
  if not now then
    now = now_ms()
    nowS, ex = str(now), now + ttl
    exS = str(ex)
    if reclaim(now, math.min(16 * K, 256)) > 0 then
      for _, s in ipairs(bsec) do
        if s then
          local f = redis.call('HMGET', s.key, 'avail', 'held', 'ver')
          s.avail, s.held, s.ver = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
          s.str = nil
        end
      end
    end
    local mk, nf = {}, 0
    for k = 4 + 2 * B, 3 + 2 * B + 3 * K, 3 do
      nf = nf + 1
      mk[nf] = KEYS[k]
    end
    local n = nf
    for k = 5 + 2 * B, 4 + 2 * B + 3 * K, 3 do
      if #KEYS[k] > idemLen then
        n = n + 1
        mk[n] = KEYS[k]
      end
    end
    local vals = bulk('MGET', nil, mk, n)
    for i = 1, nf do
      if fanUnits[mk[i]] == nil then fanUnits[mk[i]] = tonumber(vals[i]) or 0 end
    end
    for i = nf + 1, n do
      if idemOf[mk[i]] == nil then idemOf[mk[i]] = vals[i] end
    end
  end

  if useIdem then
    local v = idemOf[K_IDEM]
    if v then
      local nl = string.find(v, '\n', 1, true)
      if string.sub(v, nl + 1) ~= fp then return { 'ERR', 'IDEM_REUSED' } end
      local prevID = string.sub(v, 1, nl - 1)
      local h = made[prevID]
      if h then return { 'replay', prevID, 'held', h[1], h[2], nowS, exS } end
      h = read_hold(P .. 'hold:' .. prevID)
      if h then
        return { 'replay', prevID, h.st, h.lines, h.seats, h.ca, h.ex }
      end
    end
  end

  -- The fan's limit is checked before availability.
  local had = fanUnits[K_FAN]
  if units + had > maxfan then return { 'ERR', 'LIMIT_EXCEEDED' } end

  -- Availability on the sections' local state, undone if the hold fails: named seats first, then items in order.
  for i = 1, S do
    local s = secs[i]
    savedAvail[i], savedStr[i] = s.avail, s.str
  end
  local nseat = 0
  for j = a + 1, a + 3 * N, 3 do
    local s = bsec[num(ARGV[j])]
    local label, n = ARGV[j + 1], num(ARGV[j + 2])
    local p = s.byrow[label].off + n - 1
    local str = seatstr(s)
    if string.sub(str, p + 1, p + 1) ~= '0' then return undo(S, 'SEATS_UNAVAILABLE ' .. s.id .. '-' .. label .. '-' .. n) end
    take(s, p, 1)
    s.avail = s.avail - 1
    s.units = s.units + 1
    if not s.pos then s.pos = {} end
    s.pos[#s.pos + 1] = p
    nseat = nseat + 1
    seatids[nseat] = s.id .. '-' .. label .. '-' .. n
  end
  for j = m + 1, m + 3 * M, 3 do
    local s = bsec[num(ARGV[j])]
    local q = num(ARGV[j + 1])
    if q > s.avail then return undo(S, 'SOLD_OUT ' .. s.id) end
    if s.seated then
      local got, run, row = best(s, q, ARGV[j + 2] == '1')
      if not got then return undo(S, 'SOLD_OUT ' .. s.id) end
      if not s.pos then s.pos = {} end
      local pos = s.pos
      if run then
        take(s, got[1], q)
        for k = 0, q - 1 do
          pos[#pos + 1] = got[1] + k
          nseat = nseat + 1
          seatids[nseat] = s.id .. '-' .. row.label .. '-' .. str(got[1] + k - row.off + 1)
        end
      else
        for _, p in ipairs(got) do
          take(s, p, 1)
          pos[#pos + 1] = p
          nseat = nseat + 1
          seatids[nseat] = seat_id(s, p)
        end
      end
    end
    s.avail = s.avail - q
    s.units = s.units + q
  end

  if not fanDirty[K_FAN] then
    fanDirty[K_FAN] = true
    fanList[#fanList + 1] = K_FAN
  end
  fanUnits[K_FAN] = had + units

  -- Every check passed: write. Lines follow the sections' order.
  for i = 1, S do
    local s = secs[i]
    local u = str(s.units)
    s.held = s.held + s.units
    s.ver = s.ver + 1
    if not dirty[s] then dirty[s] = true; dirtyList[#dirtyList + 1] = s end
    local l = s.lineOf[u]
    if not l then
      l = { s.id .. ':' .. u .. ':' .. s.price, s.id .. '|' .. u .. '|' }
      s.lineOf[u] = l
    end
    lines[i] = l[1]
    if s.pos then
      table.sort(s.pos)
      allocs[i] = l[2] .. table.concat(s.pos, ',')
      s.strDirty = true
    else
      allocs[i] = l[2]
    end
    s.units, s.pos = 0, nil
  end
  local ls, ss = lines[1], ''
  if S > 1 then ls = table.concat(lines, ';', 1, S) end
  if nseat > 0 then ss = table.concat(seatids, ' ', 1, nseat) end
  local al = allocs[1]
  if S > 1 then al = table.concat(allocs, ';', 1, S) end
  nrec = nrec + 2
  recs[nrec - 1], recs[nrec] = K_HOLD, hold_record('held', exS, nowS, ls, ss, al, string.sub(K_FAN, fanAt))
  deadlines[#deadlines + 1] = exS
  deadlines[#deadlines + 1] = id
  made[id] = { ls, ss }
  if useIdem then
    local v = id .. '\n' .. fp
    idemOf[K_IDEM] = v
    redis.call('SET', K_IDEM, v, 'EX', 86400)
  end
  return ls .. '\n' .. ss
end

local out, kb, ab = {}, 4 + 2 * B, 3 + B
for i = 1, K do
  local N = num(ARGV[ab + 1])
  local M = num(ARGV[ab + 2 + 3 * N])
  out[i] = hold_one(kb, ab, i)
  kb = kb + 3
  ab = ab + 3 + 3 * N + 3 * M
end
-- Each section's counters and seat string are written once per call.
for _, s in ipairs(dirtyList) do
  redis.call('HSET', s.key, 'avail', s.avail, 'held', s.held, 'ver', s.ver)
  if s.strDirty then redis.call('SET', s.seatkey, s.str) end
end
for _, fk in ipairs(fanList) do
  nrec = nrec + 2
  recs[nrec - 1], recs[nrec] = fk, str(fanUnits[fk])
end
if nrec > 0 then bulk('MSET', nil, recs, nrec) end
if #deadlines > 0 then bulk('ZADD', K_DEADLINE, deadlines, #deadlines) end
out[K + 1] = { cur, now or 0, ex or 0 }
return out
