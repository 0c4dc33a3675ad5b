-- common.lua is prepended to every inventory script (see package lua). It holds what all of them share: the key
-- layout, the clock, and reclaiming holds.
--
-- KEYS[1] is the event's key prefix "<prefix>:{ev:<event>}:", KEYS[2] its meta hash, KEYS[3] its deadline zset;
-- scripts add their own keys after these. Keys a script cannot know in advance (the holds it reclaims lazily and
-- their sections, seats and fans) are named here from KEYS[1]. They carry the same hash tag as every other key of the
-- event, so on Redis Cluster they are in the slot the script runs on: the accepted compromise to "every key in KEYS".
--
-- The meta's field due, when set, is at most the earliest deadline in the deadline zset, so that hold.lua can skip its
-- lazy reclaim while due is in the future: a script that adds a deadline earlier than due lowers it (ZREM only
-- raises the earliest deadline, so removing needs nothing).
--
-- Seat state: one string per seated section, one byte per seat in row order, '0' free, 'h' held, 's' sold,
-- 'w' withheld. A byte rather than two bits lets string.find look for free runs in C.
local P = KEYS[1]
local K_META = KEYS[2]
local K_DEADLINE = KEYS[3]
local HOLD_KEEP_MS = 90000000 -- released and expired holds stay readable for 25 h (idempotency keys live 24 h)

-- now_ms lets arithmetic turn TIME's strings into numbers: tonumber converts its argument twice (checking, then
-- converting), and math.floor is one more call.
local function now_ms()
  local t = redis.call('TIME')
  local us = t[2] + 0
  return t[1] * 1000 + (us - us % 1000) / 1000
end

-- A hold is one string, "<state>\n<deadline ms>\n<created ms>\n<lines>\n<seats>\n<alloc>\n<fan>", with lines
-- "sec:units:price;…", seats "id id …", alloc as above and the fan last (it may hold any byte). One string is the
-- cheapest write for the hot path's largest; its units, total, currency and life cap derive from it and the meta.
local function hold_record(st, ex, ca, lines, seats, alloc, fan)
  return st .. '\n' .. ex .. '\n' .. ca .. '\n' .. lines .. '\n' .. seats .. '\n' .. alloc .. '\n' .. fan
end

-- holds_kit makes the helpers that read, free and reclaim stored holds, as a table. single.lua makes them for every
-- script but the batched hold, which needs them only when a deadline has passed or for a replay and so makes them
-- then: each function a script defines is made again at each call, with its upvalues.
local function holds_kit()
  local function split(s, sep)
    local out = {}
    if s == nil or s == false or s == '' then return out end
    local i = 1
    while true do
      local j = string.find(s, sep, i, true)
      if not j then
        out[#out + 1] = string.sub(s, i)
        return out
      end
      out[#out + 1] = string.sub(s, i, j - 1)
      i = j + #sep
    end
  end

  -- alloc is "sec|units|p1,p2,...;sec|units|" (positions 0-based in the section's seat string).
  local function parse_alloc(alloc)
    local out = {}
    for _, part in ipairs(split(alloc, ';')) do
      local f = split(part, '|')
      local pos = {}
      for _, p in ipairs(split(f[3], ',')) do pos[#pos + 1] = tonumber(p) end
      out[#out + 1] = { sec = f[1], n = tonumber(f[2]), pos = pos }
    end
    return out
  end

  -- set_seats writes byte c at the sorted positions, one SETRANGE per contiguous run.
  local function set_seats(key, pos, c)
    local i = 1
    while i <= #pos do
      local j = i
      while j < #pos and pos[j + 1] == pos[j] + 1 do j = j + 1 end
      redis.call('SETRANGE', key, pos[i], string.rep(c, j - i + 1))
      i = j + 1
    end
  end

  -- read_hold returns a hold's fields {st, ex (number), ca (number), lines, seats, alloc, fan, raw}, or nil.
  -- A malformed record reads as a hold in no state, which nothing treats as live.
  local function read_hold(hk)
    local raw = redis.call('GET', hk)
    if not raw then return nil end
    local st, ex, ca, lines, seats, alloc, fan =
      string.match(raw, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$')
    if not st then return { st = '', ex = 0, ca = 0, lines = '', seats = '', alloc = '', fan = '', raw = raw } end
    return { st = st, ex = tonumber(ex) or 0, ca = tonumber(ca) or 0, lines = lines, seats = seats, alloc = alloc,
      fan = fan, raw = raw }
  end

  -- write_hold stores h as it now stands (its state or deadline changed). SET drops any expiry the key had.
  local function write_hold(hk, h)
    h.raw = hold_record(h.st, h.ex, h.ca, h.lines, h.seats, h.alloc, h.fan)
    redis.call('SET', hk, h.raw)
  end

  -- move_held moves a live hold's units from its sections' held counters to field (avail or sold), marks its seats
  -- with byte c, and returns its units.
  local function move_held(h, field, c)
    local units = 0
    for _, a in ipairs(parse_alloc(h.alloc)) do
      local sk = P .. 'sec:' .. a.sec
      redis.call('HINCRBY', sk, 'held', -a.n)
      redis.call('HINCRBY', sk, field, a.n)
      redis.call('HINCRBY', sk, 'ver', 1)
      if #a.pos > 0 then set_seats(P .. 'seats:' .. a.sec, a.pos, c) end
      units = units + a.n
    end
    return units
  end

  -- free_hold gives a live hold's units back to sale and leaves it in state newstate (released or expired). h is the
  -- hold as read_hold read it, when the caller has it.
  local function free_hold(id, newstate, h)
    local hk = P .. 'hold:' .. id
    h = h or read_hold(hk)
    if not h or (h.st ~= 'held' and h.st ~= 'checkout') then
      redis.call('ZREM', K_DEADLINE, id)
      return false
    end
    redis.call('DECRBY', P .. 'fan:' .. h.fan, move_held(h, 'avail', '0'))
    h.st = newstate
    write_hold(hk, h)
    redis.call('PEXPIRE', hk, HOLD_KEEP_MS)
    redis.call('ZREM', K_DEADLINE, id)
    return true
  end

  -- reclaim expires up to limit holds whose deadline has passed; the deadline zset is the truth. now and limit may
  -- come as strings, which redis.call passes on without formatting a number.
  local function reclaim(now, limit)
    local ids = redis.call('ZRANGEBYSCORE', K_DEADLINE, '-inf', now, 'LIMIT', '0', limit)
    local n = 0
    for _, id in ipairs(ids) do
      if free_hold(id, 'expired') then n = n + 1 end
    end
    return n
  end
  return { split = split, parse_alloc = parse_alloc, set_seats = set_seats, read_hold = read_hold,
    write_hold = write_hold, move_held = move_held, free_hold = free_hold, reclaim = reclaim }
end
