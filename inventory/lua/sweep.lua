-- sweep.lua expires up to ARGV[1] holds whose deadline has passed and returns how many it expired.
-- KEYS: 1 prefix, 2 meta, 3 deadline.
if redis.call('EXISTS', K_META) == 0 then return fail('NOT_FOUND', 'event') end
return reclaim(now_ms(), tonumber(ARGV[1]))
