-- draw: publish the lottery seed and turn the pre-queue leaves into holes at their drawn positions.
-- KEYS: 1 q:state, 2 q:lease, 3 q:seq, 4 q:pre, 5 q:preleft, 6 q:left, 7 q:leftcount
-- ARGV: 1 owner, 2 seed, 3 number of leaves, then lane, pos pairs
if not redis.call('HGET', KEYS[1], 'ver') then return redis.error_reply('NOTFOUND') end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'LEASE' end
if redis.call('HGET', KEYS[1], 'seed') then return 'OK' end
local n = tonumber(ARGV[3])
if redis.call('SCARD', KEYS[5]) ~= n then return 'RETRY' end
if not redis.call('HGET', KEYS[1], 'frozen') then
  local all = redis.call('HGETALL', KEYS[3])
  if #all > 0 then redis.call('HSET', KEYS[4], unpack(all)) end
  redis.call('HSET', KEYS[1], 'frozen', '1')
end
for i = 0, n - 1 do
  local lane, pos = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if redis.call('SADD', KEYS[6], lane .. ':' .. pos) == 1 then redis.call('HINCRBY', KEYS[7], lane, 1) end
end
redis.call('DEL', KEYS[5])
redis.call('HSET', KEYS[1], 'seed', ARGV[2])
return 'OK'
