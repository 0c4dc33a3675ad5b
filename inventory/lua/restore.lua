-- restore.lua re-applies confirmed and in-checkout holds the store does not know (after losing its data), all or
-- nothing. The caller resolved seat positions from the event definition.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 confirmed set. Hold, section, seat and fan keys are named from KEYS[1]
-- (same hash tag, same slot): the holds to restore are only known from ARGV.
-- ARGV: per hold 11 values: id, state, fan, lines, seats, total, currency, created ms, expires ms, units, alloc.
if redis.call('EXISTS', K_META) == 0 then return fail('NOT_FOUND', 'event') end
local now = now_ms()
reclaim(now, 16)
local todo, secs, taken = {}, {}, {}
for b = 0, #ARGV - 1, 11 do
  local id = ARGV[b + 1]
  if redis.call('EXISTS', P .. 'hold:' .. id) == 0 and not taken['hold:' .. id] then
    taken['hold:' .. id] = true
    local h = { id = id, st = ARGV[b + 2], fan = ARGV[b + 3], lines = ARGV[b + 4], seats = ARGV[b + 5],
      total = ARGV[b + 6], cur = ARGV[b + 7], ca = ARGV[b + 8], ex = ARGV[b + 9], units = ARGV[b + 10],
      alloc = ARGV[b + 11] }
    if string.find(h.st .. h.ex .. h.ca .. h.lines .. h.seats .. h.alloc, '\n', 1, true) then
      return fail('INVALID', 'hold ' .. id .. ': a line break in its fields')
    end
    h.al = parse_alloc(h.alloc)
    for _, a in ipairs(h.al) do
      local s = secs[a.sec]
      if not s then
        local f = redis.call('HMGET', P .. 'sec:' .. a.sec, 'kind', 'avail')
        if not f[1] then return fail('INVALID', 'unknown section ' .. a.sec) end
        s = { avail = tonumber(f[2]), kind = f[1] }
        if f[1] == 'seated' then s.str = redis.call('GET', P .. 'seats:' .. a.sec) or '' end
        secs[a.sec] = s
      end
      if a.n > s.avail then return fail('SOLD_OUT', a.sec) end
      s.avail = s.avail - a.n
      for _, p in ipairs(a.pos) do
        if string.sub(s.str, p + 1, p + 1) ~= '0' or taken[a.sec .. ':' .. p] then
          return fail('SEATS_UNAVAILABLE', a.sec .. ' seat ' .. p)
        end
        taken[a.sec .. ':' .. p] = true
      end
    end
    todo[#todo + 1] = h
  end
end
for _, h in ipairs(todo) do
  local sold = h.st == 'confirmed'
  for _, a in ipairs(h.al) do
    local sk = P .. 'sec:' .. a.sec
    redis.call('HINCRBY', sk, 'avail', -a.n)
    redis.call('HINCRBY', sk, sold and 'sold' or 'held', a.n)
    redis.call('HINCRBY', sk, 'ver', 1)
    if #a.pos > 0 then
      table.sort(a.pos)
      set_seats(P .. 'seats:' .. a.sec, a.pos, sold and 's' or 'h')
    end
  end
  redis.call('SET', P .. 'hold:' .. h.id, hold_record(h.st, h.ex, h.ca, h.lines, h.seats, h.alloc, h.fan))
  redis.call('INCRBY', P .. 'fan:' .. h.fan, tonumber(h.units))
  if sold then
    redis.call('INCRBY', P .. 'bought:' .. h.fan, tonumber(h.units))
    redis.call('SADD', KEYS[4], h.id)
  else
    redis.call('ZADD', K_DEADLINE, h.ex, h.id)
    -- The meta's due stays at most the earliest deadline (see common.lua).
    local due = tonumber(redis.call('HGET', K_META, 'due'))
    if due and tonumber(h.ex) < due then redis.call('HSET', K_META, 'due', h.ex) end
  end
end
return #todo
