-- admit: one controller tick. Drop active places past their deadline, record the measured rates, releases and a
-- sold-out close, then move the serving counters of the lanes in priority order by up to N admissions, skipping
-- holes (places whose fans left); every admitted place counts as active until its arrival deadline. A closed event
-- admits nobody and takes no sold-out close.
-- KEYS: 1 q:state, 2 q:lease, 3 q:seq, 4 q:serving, 5 q:left, 6 q:leftcount, 7 q:active
-- ARGV: 1 owner, 2 now ms, 3 arrival ms, 4 N, 5 sold out 0|1, 6 rate, 7 stock "available:held" or "",
--       8 number of lanes, lanes…,
--       number of rate pairs, lane, rate pairs…, released wave ids…
if not redis.call('HGET', KEYS[1], 'ver') then return redis.error_reply('NOTFOUND') end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return redis.error_reply('LEASE') end
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', ARGV[2])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'stock', ARGV[7]) end
local i = 9
local lanes = {}
for j = 1, tonumber(ARGV[8]) do lanes[j] = ARGV[i]; i = i + 1 end
local nr = tonumber(ARGV[i]); i = i + 1
for _ = 1, nr do
  redis.call('HSET', KEYS[1], 'r' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'rate', ARGV[6])
while i <= #ARGV do
  redis.call('HSET', KEYS[1], 'rel:' .. ARGV[i], '1')
  i = i + 1
end
local closed = redis.call('HGET', KEYS[1], 'closed')
if ARGV[5] == '1' and not closed then redis.call('HSET', KEYS[1], 'soldout', '1') end
local out = {}
local n, N = 0, tonumber(ARGV[4])
local limit = 4 * N + 1000
if not closed and not redis.call('HGET', KEYS[1], 'soldout') then
  for _, lane in ipairs(lanes) do
    local seq = tonumber(redis.call('HGET', KEYS[3], lane) or '0')
    local srv = tonumber(redis.call('HGET', KEYS[4], lane) or '0')
    local start, got, steps = srv, 0, 0
    while n < N and srv < seq and steps < limit do
      srv = srv + 1
      steps = steps + 1
      local m = lane .. ':' .. string.format('%d', srv)
      if redis.call('SREM', KEYS[5], m) == 1 then
        redis.call('HINCRBY', KEYS[6], lane, -1)
      else
        redis.call('ZADD', KEYS[7], ARGV[3], m)
        got = got + 1
        n = n + 1
      end
    end
    if srv ~= start then redis.call('HSET', KEYS[4], lane, string.format('%d', srv)) end
    out[#out + 1] = lane
    out[#out + 1] = got
  end
end
if n > 0 then redis.call('HINCRBY', KEYS[1], 'admitted', n) end
return {out, redis.call('HGETALL', KEYS[4]), redis.call('ZCARD', KEYS[7])}
