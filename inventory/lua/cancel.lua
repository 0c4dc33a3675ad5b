-- cancel.lua closes an event for good (the meta's closed, which hold.lua reads with the fields it reads anyway) and
-- releases up to ARGV[1] of its live holds, earliest deadline first, as release.lua does. A hold whose deadline has
-- passed beyond the lazy reclaim's reach is expired, as a sweep would, and not counted.
-- KEYS: 1 prefix, 2 meta, 3 deadline. Returns {released, live holds left}.
if redis.call('EXISTS', K_META) == 0 then return fail('NOT_FOUND', 'event') end
redis.call('HSET', K_META, 'closed', '1')
local now = now_ms()
reclaim(now, 16)
local n = 0
for _, id in ipairs(redis.call('ZRANGE', K_DEADLINE, 0, tonumber(ARGV[1]) - 1)) do
  local h = read_hold(P .. 'hold:' .. id)
  if h and h.ex > now then
    if free_hold(id, 'released', h) then n = n + 1 end
  else
    free_hold(id, 'expired', h)
  end
end
return { n, redis.call('ZCARD', K_DEADLINE) }
