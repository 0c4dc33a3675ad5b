-- config: store an event's configuration, bump its version, reopen a sold-out queue.
-- KEYS: 1 q:config, 2 q:state
-- ARGV: 1 configuration
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], 'soldout')
return redis.call('HINCRBY', KEYS[2], 'ver', 1)
