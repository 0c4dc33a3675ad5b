-- overrides: change admission live. Rate and max active belong to a wave; a change for another wave resets them.
-- KEYS: 1 q:state
-- ARGV: 1 paused (-1 unchanged, 0, 1), 2 wave, 3 admit per min (0 unchanged), 4 max active (0 unchanged)
if not redis.call('HGET', KEYS[1], 'ver') then return redis.error_reply('NOTFOUND') end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'paused', '1') elseif ARGV[1] == '0' then redis.call('HDEL', KEYS[1], 'paused') end
if redis.call('HGET', KEYS[1], 'ovr_wave') ~= ARGV[2] then
  redis.call('HDEL', KEYS[1], 'ovr_rate', 'ovr_max')
  redis.call('HSET', KEYS[1], 'ovr_wave', ARGV[2])
end
if ARGV[3] ~= '0' then redis.call('HSET', KEYS[1], 'ovr_rate', ARGV[3]) end
if ARGV[4] ~= '0' then redis.call('HSET', KEYS[1], 'ovr_max', ARGV[4]) end
return 1
