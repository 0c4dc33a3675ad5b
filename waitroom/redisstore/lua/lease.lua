-- lease: take the controller lease when free, renew it when held by the same owner.
-- KEYS: 1 q:lease, 2 q:state
-- ARGV: 1 owner, 2 ttl ms
if not redis.call('HGET', KEYS[2], 'ver') then return redis.error_reply('NOTFOUND') end
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
