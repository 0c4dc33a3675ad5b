-- close: close an event's queue for good (the event is cancelled); no configuration reopens it.
-- KEYS: 1 q:state
if not redis.call('HGET', KEYS[1], 'ver') then return redis.error_reply('NOTFOUND') end
redis.call('HSET', KEYS[1], 'closed', '1')
return 1
