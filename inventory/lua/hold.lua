-- hold.lua takes units out of sale for one or more fans of one event: a batch of holds in one call. Each hold is all
-- or nothing on its own and the holds are served in order, exactly as if each had been its own script call, but the
-- batch shares the call's overhead, the clock, the event's meta and the section reads.
-- KEYS: 1 prefix, 2 meta, 3 deadline, then for each of the batch's B sections its counters hash and seat string, then
--       per hold: fan, new hold, and its idempotency key when it has one. The hold id and the fan are read from
--       their keys.
-- ARGV: 1 K = number of holds, 2 B, B section ids, then per hold its spec and, when it has an idempotency key, its
--       request fingerprint. A spec is one string of words separated by spaces: "i" (an idempotency key) or "-",
--       N = number of named seats, N triples (section id, row, seat number), M = number of items, M triples
--       (section id, quantity, adjacent "1"/"0"); every section named is one of the batch's.
-- Returns one entry per hold: "<lines>\n<seats>" for a new one (its id is in its key, its state held), {"replay", id,
-- state, lines, seats, created, expires} or {"ERR", "<CODE> <detail>"}; then one more, what the call's new holds share:
-- {currency, created, expires} (0, 0 when the call made none).
-- The caller has checked what needs no stored state: quantities > 0, at most 100 units, seat ids parse, no seat twice.
--
-- The per-hold path is kept lean, as it is what a sale's throughput is made of: few arguments per hold (each costs the
-- server a parse, an object and a Lua string), a spec parsed once per call and distinct value (the common holds of a
-- sale repeat a handful), numbers turned into strings once per call and value (see str), scratch tables reused, and no
-- redis.call per hold on its common path: the holds of a call share one deadline, written in one ZADD; the fans' units
-- and idempotency keys are read in one MGET; the new holds and the fans' units are written in one MSET (a live hold has
-- no expiry), each section's counters and seat string once. Only an idempotency key (SET with its expiry) and a replay
-- of a hold made before the call (GET) cost a call of their own.
-- Numbers the call knows to be there are converted by arithmetic: tonumber converts its argument twice (checking,
-- then converting) and is a call of its own.
local K = ARGV[1] + 0
local meta = redis.call('HMGET', K_META, 'ttl', 'maxfan', 'cur', 'due', 'closed')
-- A cancelled event (see cancel.lua) refuses every hold before any is judged, replays included.
if not meta[1] or meta[5] then
  local code = meta[1] and 'EVENT_CLOSED' or 'NOT_FOUND event'
  local out = {}
  for i = 1, K do out[i] = { 'ERR', code } end
  out[K + 1] = { '', 0, 0 }
  return out
end
local ttl, maxfan, cur, dueRead = meta[1] + 0, meta[2] + 0, meta[3], tonumber(meta[4])
-- due is the meta's due as the call leaves it (see common.lua); nil when unknown (the reclaim hit its limit).
local due

-- Integers become strings with string.format's integer path: tostring, and redis.call given a number, format it as
-- a double, which costs the server twice to three times as much.
local fmt = string.format

-- The batch's sections: definition, counters as they stand within this call, seat string; false for an unknown one.
local B = ARGV[2] + 0
local bsec = {}
for i = 1, B do
  local sk = KEYS[2 + 2 * i]
  local f = redis.call('HMGET', sk, 'kind', 'avail', 'held', 'ver', 'price', 'rows')
  local s = false
  if f[1] then
    s = { id = ARGV[2 + i], key = sk, seatkey = KEYS[3 + 2 * i], seated = f[1] == 'seated', avail = f[2] + 0,
      held = f[3] + 0, ver = f[4] + 0, price = f[5], units = 0, mark = 0, lineOf = {}, dirty = false }
    if s.seated then
      -- The rows "label:offset:seats,…" are parsed as the call reaches them (see row_at).
      s.rows, s.byrow, s.ff, s.dirtyRows, s.rowsDef, s.rowsAt = {}, {}, 1, {}, f[6], 1
    end
  end
  bsec[i] = s
end
-- bulk runs cmd [key] on the first n values of list, in chunks that fit Lua's stack (pairs stay together), and
-- returns what the chunks return, concatenated (for MGET).
local function bulk(cmd, key, list, n)
  local out
  for from = 1, n, 4000 do
    local to = math.min(from + 3999, n)
    local r
    if key then r = redis.call(cmd, key, unpack(list, from, to)) else r = redis.call(cmd, unpack(list, from, to)) end
    if type(r) == 'table' then
      if from == 1 and to == n then return r end
      out = out or {}
      for _, v in ipairs(r) do out[#out + 1] = v end
    end
  end
  return out or {}
end

local now, nowS, ex, exS
-- The sections to write (each marked dirty) and the new holds' deadlines.
local dirtyList, deadlines = {}, {}
-- What the call read or wrote by key: fans' units, idempotency entries; the names of the fans to write and their
-- keys in order; new hold records (key, value, …).
local fanUnits, idemOf, fanName, fanList, recs, nrec, nd = {}, {}, {}, {}, {}, 0, 0

local fanAt, holdAt = #P + 5, #P + 6

-- The batch's section ids by index, for the specs.
local secOf = {}
for i = 1, B do secOf[ARGV[2 + i]] = i end

-- spec returns a hold's spec as a table laid out like its words, with the sections as indexes into the batch's
-- (0 for one not in it) and the numbers as numbers: [1] "i" or "-", [2] N, N triples, M, M triples; .w is the
-- words. A call parses each distinct spec once. hasGeneral is set by a spec that is not the common hold's.
local specOf, hasGeneral = {}, false
local function spec(sp)
  local t = specOf[sp]
  if t then return t end
  -- The common hold's spec as the store writes it is matched whole, without cutting it into words.
  local sec, q = string.match(sp, '^%- 0 1 ([^ ]+) (%d+) 0$')
  if sec then
    local i = secOf[sec]
    local s = i and bsec[i]
    if s and not s.seated then
      t = { '-', 0, 1, i, q + 0, '0', common = s }
      specOf[sp] = t
      return t
    end
  end
  local w, n = {}, 0
  for word in string.gmatch(sp, '[^ ]+') do
    n = n + 1
    w[n] = word
  end
  t = { w[1], tonumber(w[2]), w = w }
  local N = t[2] or 0
  for j = 3, 2 + 3 * N, 3 do
    t[j], t[j + 1], t[j + 2] = secOf[w[j]] or 0, w[j + 1], tonumber(w[j + 2])
  end
  local m = 3 + 3 * N
  t[m] = tonumber(w[m])
  for j = m + 1, m + 3 * (t[m] or 0), 3 do
    t[j], t[j + 1], t[j + 2] = secOf[w[j]] or 0, tonumber(w[j + 1]), w[j + 2]
  end
  -- The common hold, one unit count of a general section and no idempotency key, is served by the main loop.
  if N == 0 and t[3] == 1 and w[1] == '-' and w[6] == '0' then
    local s = bsec[t[4]]
    if s and not s.seated then t.common = s end
  end
  if not t.common then hasGeneral = true end
  specOf[sp] = t
  return t
end

-- The holds' specs, parsed before the first hold is served; the keys start_call reads: the fans', each once (a batch
-- may carry many holds of one fan), then the idempotency keys (idemKeys is made by the first hold that has one). A
-- hold's keys and arguments are found again by walking them in the same order, which is cheaper than keeping them.
local mk, nf, idemKeys = {}, 0, nil
do
  local kb, ab = 4 + 2 * B, 3 + B
  for _ = 1, K do
    local sp = ARGV[ab]
    local t = specOf[sp] or spec(sp)
    local fk = KEYS[kb]
    if fanUnits[fk] == nil then
      fanUnits[fk] = false
      nf = nf + 1
      mk[nf] = fk
    end
    if t[1] == 'i' then
      idemKeys = idemKeys or {}
      idemKeys[#idemKeys + 1] = KEYS[kb + 2]
      kb, ab = kb + 3, ab + 2
    else
      kb, ab = kb + 2, ab + 1
    end
  end
end

-- Lazy expiry, once per call, before the first valid hold: up to 16 per hold of the batch (at most 256, so a large
-- batch never blocks the server for long; the sweeper reclaims the rest), unless the meta's due says that no deadline
-- has passed yet; after a reclaim that found them all, due becomes the earliest deadline left. Then the fans' units and
-- the idempotency keys of the whole batch in one MGET (after the reclaim, which gives units back); the call keeps them
-- up to date as it goes and writes the fans' once at the end.
local function start_call()
  now = now_ms()
  nowS, ex = fmt('%d', now), now + ttl
  exS = fmt('%d', ex)
  if dueRead and dueRead > now then
    due = dueRead
  else
    local limit = math.min(16 * K, 256)
    local n = holds_kit().reclaim(nowS, fmt('%d', limit))
    if n < limit then
      local first = redis.call('ZRANGE', K_DEADLINE, 0, 0, 'WITHSCORES')
      due = tonumber(first[2]) or false
    end
    if n > 0 then
      for _, s in ipairs(bsec) do
        if s then
          local f = redis.call('HMGET', s.key, 'avail', 'held', 'ver')
          s.avail, s.held, s.ver = f[1] + 0, f[2] + 0, f[3] + 0
          s.parts, s.ff = nil, 1
        end
      end
    end
  end
  local n = nf
  if idemKeys then
    for _, ik in ipairs(idemKeys) do
      n = n + 1
      mk[n] = ik
    end
  end
  local vals = bulk('MGET', nil, mk, n)
  for i = 1, nf do
    local v = vals[i]
    fanUnits[mk[i]] = v and v + 0 or 0
  end
  for i = nf + 1, n do
    if idemOf[mk[i]] == nil then idemOf[mk[i]] = vals[i] end
  end
end

-- general makes the path of holds other than the common one (named seats, seated sections, several items,
-- idempotency keys) and returns its hold_one. A call of common holds only never makes it, nor even general itself:
-- each function a call defines costs the server an allocation, one more per local it captures, and garbage.
local general = hasGeneral and function()
  -- str converts small integers (seat numbers, unit counts) once per call.
  local strOf = {}
  local function str(n)
    local s = strOf[n]
    if not s then
      s = fmt('%d', n)
      strOf[n] = s
    end
    return s
  end

  -- new_line makes, once per call, section s's line for n units: {line, alloc prefix, the new hold's reply}, kept in
  -- s.lineOf by the number; callers read s.lineOf[n] first and call this only on a miss
  -- (the main loop builds its own inline: it is the common holds' path).
  local function new_line(s, n)
    local u = str(n)
    local l = { s.id .. ':' .. u .. ':' .. s.price, s.id .. '|' .. u .. '|', s.id .. ':' .. u .. ':' .. s.price .. '\n' }
    s.lineOf[n] = l
    return l
  end

  -- new_fan adds a fan's key to the fans the call writes and returns its name (callers read fanName first;
  -- the main loop does this inline).
  local function new_fan(K_FAN)
    local fan = string.sub(K_FAN, fanAt)
    fanName[K_FAN] = fan
    fanList[#fanList + 1] = K_FAN
    return fan
  end

  -- row_at returns row i of seated section s, {label, off, n, i}, or nil past its last: a section's rows are parsed
  -- from its definition up to the one asked for, as holds mostly look no further than the first rows with free seats.
  local function row_at(s, i)
    local rows = s.rows
    while not rows[i] and s.rowsAt do
      local _, e, label, off, n = string.find(s.rowsDef, '([^:,]+):(%d+):(%d+)', s.rowsAt)
      if e then
        local r = { label = label, off = off + 0, n = n + 0, i = #rows + 1 }
        rows[r.i] = r
        s.byrow[label] = r
      end
      s.rowsAt = e and e + 1
    end
    return rows[i]
  end

  -- all_rows parses all of seated section s's rows (for s.byrow and the whole string).
  local function all_rows(s)
    while s.rowsAt do row_at(s, #s.rows + 1) end
  end

  -- seatparts reads a seated section's seat string (s.str) once per call; its rows are cut from it as they are
  -- needed (see row), so a hold rewrites a row rather than the whole string: row i is parts[2 * i] once cut, the
  -- (normally empty) pieces around rows the odd ones, cut only to write the whole string back. s.ff is the first row
  -- that may have a free seat: the rows before it are full within this call.
  local function seatparts(s)
    if not s.parts then
      s.str = redis.call('GET', s.seatkey) or ''
      s.parts, s.ff = {}, 1
    end
    return s.parts
  end

  -- row returns row r of section s as it stands in the call.
  local function row(s, r)
    local parts, k = seatparts(s), 2 * r.i
    local str = parts[k]
    if not str then
      str = string.sub(s.str, r.off + 1, r.off + r.n)
      parts[k] = str
    end
    return str
  end

  -- The rows the current hold rewrote (section, row, old string), for undo.
  local logS, logR, logV, nlog = {}, {}, {}, 0

  -- take marks len seats of row r held, from seat x (1-based in the row).
  local function take(s, r, x, len)
    local parts, k = s.parts, 2 * r.i
    local old = row(s, r)
    nlog = nlog + 1
    logS[nlog], logR[nlog], logV[nlog] = s, r, old
    parts[k] = string.sub(old, 1, x - 1) .. string.rep('h', len) .. string.sub(old, x + len)
  end

  -- best returns q seats of section s as "best available" says, or nil: the first clean placement (a free run of
  -- length L >= q with L == q or L - q >= 2) in row order then run order, else the first placement at all, as its
  -- first seat (1-based in its row), true and the row; else (not adjacent) the first q free seats in row and seat
  -- order, as {row, seat} pairs, and false. Rows found full are skipped by later holds of the call.
  local function best(s, q, adj)
    local parts = seatparts(s)
    local first, firstRow
    local ff = s.ff
    -- The rows not cut yet are as the stored string has them: one search of it skips those that are full, without
    -- cutting them. x is the first free seat from row ff's start (1-based in the string), past the end if none.
    local whole, x = s.str, nil
    while not parts[2 * ff] do
      local r = row_at(s, ff)
      if not r then break end
      if not x or x <= r.off then x = string.find(whole, '0', r.off + 1, true) or #whole + 1 end
      if x <= r.off + r.n then break end
      ff = ff + 1
    end
    local i, r = ff, row_at(s, ff)
    while r do
      local str = row(s, r)
      local init = string.find(str, '0', 1, true)
      if not init then
        if i == ff then ff = i + 1 end
      elseif r.n >= q then
        while true do
          local x, y = string.find(str, '0+', init)
          if not x then break end
          local L = y - x + 1
          if L >= q then
            if L == q or L - q >= 2 then
              s.ff = ff
              return x, true, r
            end
            if not first then first, firstRow = x, r end
          end
          init = y + 1
        end
      end
      i = i + 1
      r = row_at(s, i)
    end
    s.ff = ff
    if first then return first, true, firstRow end
    if adj then return nil end
    local out = {}
    i, r = ff, row_at(s, ff)
    while r do
      local str, init = row(s, r), 1
      while true do
        local x = string.find(str, '0', init, true)
        if not x then break end
        out[#out + 1] = { r, x }
        if #out == q then return out, false end
        init = x + 1
      end
      i = i + 1
      r = row_at(s, i)
    end
    return nil
  end

  -- Scratch, reused by every hold: the hold's sections, their state before it (for undo), its seat ids and lines.
  local secs, savedAvail, savedFF, seatids, lines, allocs = {}, {}, {}, {}, {}, {}

  -- undo puts the hold's S sections back as they were before it and returns its error entry.
  local function undo(S, code)
    for k = nlog, 1, -1 do logS[k].parts[2 * logR[k].i] = logV[k] end
    nlog = 0
    for i = 1, S do
      local s = secs[i]
      s.avail, s.ff, s.units, s.pos = savedAvail[i], savedFF[i], 0, nil
    end
    return { 'ERR', code }
  end

  -- The new holds' lines and seats by id, made with an idempotency key: a later hold of the call may replay one.
  local made = {}

  -- replay answers a hold whose idempotency key is taken: the same request gets the hold it made, another one a
  -- conflict. It returns nil when the key is free (or its hold is gone).
  local function replay(K_IDEM, fp)
    local v = idemOf[K_IDEM]
    if not v then return nil end
    local nl = string.find(v, '\n', 1, true)
    if string.sub(v, nl + 1) ~= fp then return { 'ERR', 'IDEM_REUSED' } end
    local prevID = string.sub(v, 1, nl - 1)
    local h = made[prevID]
    if h then return { 'replay', prevID, 'held', h[1], h[2], nowS, exS } end
    h = holds_kit().read_hold(P .. 'hold:' .. prevID)
    if h then return { 'replay', prevID, h.st, h.lines, h.seats, h.ca, h.ex } end
    return nil
  end

  -- made_hold records a new hold: its record for the MSET, its deadline, its idempotency key. Its fan is one of
  -- the call's fans to write (new_fan has named it).
  local function made_hold(K_HOLD, id, K_IDEM, useIdem, fp, ls, ss, al, K_FAN)
    nrec = nrec + 2
    recs[nrec - 1], recs[nrec] = K_HOLD, hold_record('held', exS, nowS, ls, ss, al, fanName[K_FAN])
    nd = nd + 2
    deadlines[nd - 1], deadlines[nd] = exS, id
    if useIdem then
      made[id] = { ls, ss }
      local v = id .. '\n' .. fp
      idemOf[K_IDEM] = v
      redis.call('SET', K_IDEM, v, 'EX', 86400)
    end
  end

  -- hold_one serves hold i of the call, whose keys start at KEYS[kb], and returns the reply entry. Its spec is t (see
  -- spec): seats from t[3], items from t[m + 1]; fp its fingerprint, nil without an idempotency key. The hold's
  -- sections, in order of first appearance (named seats first), are its S entries of secs.
  local function hold_one(i, kb, t, fp)
    local K_FAN, K_HOLD, K_IDEM = KEYS[kb], KEYS[kb + 1], KEYS[kb + 2]
    local id, useIdem = string.sub(K_HOLD, holdAt), fp ~= nil
    local mark, N = i, t[2]
    local a = 2
    local m = a + 3 * N + 1
    local M = t[m]

    -- The common hold, one item of a general section, takes a short path with the same checks in the same order.
    if N == 0 and M == 1 then
      local s = bsec[t[m + 1]]
      if s and not s.seated then
        if t[m + 3] == '1' then return { 'ERR', 'INVALID adjacent on general section ' .. s.id } end
        local q = t[m + 2]
        if not now then start_call() end
        if useIdem then
          local r = replay(K_IDEM, fp)
          if r then return r end
        end
        local had = fanUnits[K_FAN]
        if q + had > maxfan then return { 'ERR', 'LIMIT_EXCEEDED' } end
        if q > s.avail then return { 'ERR', 'SOLD_OUT ' .. s.id } end
        s.avail, s.held, s.ver = s.avail - q, s.held + q, s.ver + 1
        if not s.dirty then s.dirty = true; dirtyList[#dirtyList + 1] = s end
        if not fanName[K_FAN] then new_fan(K_FAN) end
        fanUnits[K_FAN] = had + q
        local l = s.lineOf[q] or new_line(s, q)
        made_hold(K_HOLD, id, K_IDEM, useIdem, fp, l[1], '', l[2], K_FAN)
        return l[3]
      end
    end

    -- Validate against the definition, before anything changes.
    local S = 0
    for pass = 1, 2 do
      local from, to = a + 1, a + 3 * N
      if pass == 2 then from, to = m + 1, m + 3 * M end
      for j = from, to, 3 do
        local s = bsec[t[j]]
        if not s then return { 'ERR', 'INVALID unknown section ' .. t.w[j] } end
        if s.mark ~= mark then
          s.mark = mark
          S = S + 1
          secs[S] = s
        end
      end
    end
    for j = a + 1, a + 3 * N, 3 do
      local s = bsec[t[j]]
      local label, n = t[j + 1], t[j + 2]
      if not s.seated then return { 'ERR', 'INVALID seat in general section ' .. s.id } end
      all_rows(s)
      local r = s.byrow[label]
      if not r or n < 1 or n > r.n then
        return { 'ERR', 'INVALID unknown seat ' .. s.id .. '-' .. label .. '-' .. n }
      end
    end
    local units = N
    for j = m + 1, m + 3 * M, 3 do
      local s = bsec[t[j]]
      if t[j + 2] == '1' and not s.seated then
        return { 'ERR', 'INVALID adjacent on general section ' .. s.id }
      end
      units = units + t[j + 1]
    end

    if not now then start_call() end

    if useIdem then
      local r = replay(K_IDEM, fp)
      if r then return r end
    end

    -- The fan's limit is checked before availability.
    local had = fanUnits[K_FAN]
    if units + had > maxfan then return { 'ERR', 'LIMIT_EXCEEDED' } end

    -- Availability on the sections' local state, undone if the hold fails: named seats first, then items in order.
    for i = 1, S do
      local s = secs[i]
      savedAvail[i], savedFF[i] = s.avail, s.ff
    end
    nlog = 0
    local nseat = 0
    for j = a + 1, a + 3 * N, 3 do
      local s = bsec[t[j]]
      local label, n = t[j + 1], t[j + 2]
      local r = s.byrow[label]
      if string.sub(row(s, r), n, n) ~= '0' then
        return undo(S, 'SEATS_UNAVAILABLE ' .. s.id .. '-' .. label .. '-' .. n)
      end
      take(s, r, n, 1)
      s.avail = s.avail - 1
      s.units = s.units + 1
      if not s.pos then s.pos = {} end
      s.pos[#s.pos + 1] = r.off + n - 1
      nseat = nseat + 1
      seatids[nseat] = s.id .. '-' .. label .. '-' .. n
    end
    for j = m + 1, m + 3 * M, 3 do
      local s = bsec[t[j]]
      local q = t[j + 1]
      if q > s.avail then return undo(S, 'SOLD_OUT ' .. s.id) end
      if s.seated then
        local got, run, row = best(s, q, t[j + 2] == '1')
        if not got then return undo(S, 'SOLD_OUT ' .. s.id) end
        if not s.pos then s.pos = {} end
        local pos = s.pos
        if run then
          take(s, row, got, q)
          for k = 0, q - 1 do
            pos[#pos + 1] = row.off + got - 1 + k
            nseat = nseat + 1
            seatids[nseat] = s.id .. '-' .. row.label .. '-' .. str(got + k)
          end
        else
          for _, g in ipairs(got) do
            local r, x = g[1], g[2]
            take(s, r, x, 1)
            pos[#pos + 1] = r.off + x - 1
            nseat = nseat + 1
            seatids[nseat] = s.id .. '-' .. r.label .. '-' .. str(x)
          end
        end
      end
      s.avail = s.avail - q
      s.units = s.units + q
    end

    if not fanName[K_FAN] then new_fan(K_FAN) end
    fanUnits[K_FAN] = had + units

    -- Every check passed: write. Lines follow the sections' order; the rows the hold took seats in are written at
    -- the end of the call.
    for k = 1, nlog do
      local r = logR[k]
      if not r.dirty then
        r.dirty = true
        local rows = logS[k].dirtyRows
        rows[#rows + 1] = r
      end
    end
    for i = 1, S do
      local s = secs[i]
      s.held = s.held + s.units
      s.ver = s.ver + 1
      if not s.dirty then s.dirty = true; dirtyList[#dirtyList + 1] = s end
      local l = s.lineOf[s.units] or new_line(s, s.units)
      lines[i] = l[1]
      if s.pos then
        table.sort(s.pos)
        allocs[i] = l[2] .. table.concat(s.pos, ',')
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
    made_hold(K_HOLD, id, K_IDEM, useIdem, fp, ls, ss, al, K_FAN)
    return ls .. '\n' .. ss
  end
  return hold_one, all_rows
end


-- The holds in order. The common hold (spec.common is its section) is served here rather than by a function of its
-- own, a call per hold costing about as much as its work: the checks of hold_one's short path in the same order, with
-- the hold's record cut from one prefix per call and line, its fan's name once per fan.
local out, hold_one, all_rows = {}, nil, nil
local keys, argv, sub = KEYS, ARGV, string.sub
local kb, ab = 4 + 2 * B, 3 + B
for i = 1, K do
  local t = specOf[argv[ab]]
  local s = t.common
  if s then
    if not now then start_call() end
    local q = t[5]
    local K_FAN = keys[kb]
    local had, avail = fanUnits[K_FAN], s.avail
    if q + had > maxfan then
      out[i] = { 'ERR', 'LIMIT_EXCEEDED' }
    elseif q > avail then
      out[i] = { 'ERR', 'SOLD_OUT ' .. s.id }
    else
      s.avail, s.held, s.ver = avail - q, s.held + q, s.ver + 1
      if not s.dirty then s.dirty = true; dirtyList[#dirtyList + 1] = s end
      local fan = fanName[K_FAN]
      if not fan then
        fan = sub(K_FAN, fanAt)
        fanName[K_FAN] = fan
        fanList[#fanList + 1] = K_FAN
      end
      fanUnits[K_FAN] = had + q
      local l = s.lineOf[q]
      if not l then
        local u = fmt('%d', q)
        l = { s.id .. ':' .. u .. ':' .. s.price, s.id .. '|' .. u .. '|', s.id .. ':' .. u .. ':' .. s.price .. '\n' }
        s.lineOf[q] = l
      end
      local rec = l.rec
      if not rec then
        rec = hold_record('held', exS, nowS, l[1], '', l[2], '')
        l.rec = rec
      end
      local K_HOLD = keys[kb + 1]
      nrec = nrec + 2
      recs[nrec - 1], recs[nrec] = K_HOLD, rec .. fan
      nd = nd + 2
      deadlines[nd - 1], deadlines[nd] = exS, sub(K_HOLD, holdAt)
      out[i] = l[3]
    end
    kb, ab = kb + 2, ab + 1
  else
    if not hold_one then hold_one, all_rows = general() end
    if t[1] == 'i' then
      out[i] = hold_one(i, kb, t, argv[ab + 1])
      kb, ab = kb + 3, ab + 2
    else
      out[i] = hold_one(i, kb, t, nil)
      kb, ab = kb + 2, ab + 1
    end
  end
end
-- Each section's counters and seat string are written once per call: the seat string's rows the call changed, one
-- SETRANGE each while they are few (joining a section's rows into its whole string costs as much as 30 or so).
for _, s in ipairs(dirtyList) do
  redis.call('HSET', s.key, 'avail', fmt('%d', s.avail), 'held', fmt('%d', s.held), 'ver', fmt('%d', s.ver))
  local rows = s.dirtyRows
  if rows and #rows > 16 then
    -- The whole string: the rows not cut and the pieces around rows as read, the others as the call left them.
    all_rows(s)
    local parts, str, at = s.parts, s.str, 0
    for i, r in ipairs(s.rows) do
      parts[2 * i - 1] = string.sub(str, at + 1, r.off)
      parts[2 * i] = parts[2 * i] or string.sub(str, r.off + 1, r.off + r.n)
      at = r.off + r.n
    end
    parts[2 * #s.rows + 1] = string.sub(str, at + 1)
    redis.call('SET', s.seatkey, table.concat(parts))
  elseif rows then
    for _, r in ipairs(rows) do redis.call('SETRANGE', s.seatkey, fmt('%d', r.off), s.parts[2 * r.i]) end
  end
end
for _, fk in ipairs(fanList) do
  nrec = nrec + 2
  recs[nrec - 1], recs[nrec] = fk, fmt('%d', fanUnits[fk])
end
if nrec > 0 then bulk('MSET', nil, recs, nrec) end
if nd > 0 then bulk('ZADD', K_DEADLINE, deadlines, nd) end
-- due false: the deadline zset was empty after the reclaim.
if due ~= nil then
  if nd > 0 and (not due or ex < due) then due = ex end
  if due and due ~= dueRead then redis.call('HSET', K_META, 'due', fmt('%d', due)) end
end
out[K + 1] = { cur, now or 0, ex or 0 }
return out
