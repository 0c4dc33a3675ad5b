-- single.lua follows common.lua in every inventory script but hold.lua (see package lua): helpers of the scripts that
-- serve one request, which the batched hold script, called most, does not pay to define.
local kit = holds_kit()
local split, parse_alloc, set_seats, read_hold, write_hold, move_held, free_hold, reclaim =
  kit.split, kit.parse_alloc, kit.set_seats, kit.read_hold, kit.write_hold, kit.move_held, kit.free_hold, kit.reclaim
local function fail(code, msg)
  if msg then return redis.error_reply(code .. ' ' .. msg) end
  return redis.error_reply(code)
end

-- line_sums returns the units and the total price of a lines string "sec:units:price;…".
local function line_sums(lines)
  local units, total = 0, 0
  for q, price in string.gmatch(lines, '[^:;]+:(%d+):(%d+)') do
    units = units + tonumber(q)
    total = total + tonumber(q) * tonumber(price)
  end
  return units, total
end

-- hold_reply returns a hold as the store reads it: a field/value list of its record and the event's currency.
local function hold_reply(h, cur)
  return { 'h', h.raw, 'cur', cur }
end

-- target_hold reads the hold a call is about (as read_hold) and, when its deadline has passed, expires it first as a
-- sweep would. It returns nil when there is no such hold.
local function target_hold(id, now)
  local h = read_hold(P .. 'hold:' .. id)
  if not h then return nil end
  if (h.st == 'held' or h.st == 'checkout') and h.ex <= now then free_hold(id, 'expired', h) end
  return h
end
