-- freeze: fix the pre-queue sizes (idempotent).
-- KEYS: 1 q:state, 2 q:seq, 3 q:pre
if not redis.call('HGET', KEYS[1], 'ver') then return redis.error_reply('NOTFOUND') end
if not redis.call('HGET', KEYS[1], 'frozen') then
  local all = redis.call('HGETALL', KEYS[2])
  if #all > 0 then redis.call('HSET', KEYS[3], unpack(all)) end
  redis.call('HSET', KEYS[1], 'frozen', '1')
end
return 1
