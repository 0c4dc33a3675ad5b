-- quiet: admitted places whose fans have nothing left to do count as active until their given time at most, never
-- longer than before; a place that stopped counting is left alone.
-- KEYS: 1 q:active
-- ARGV: 1 now ms, then pairs: member "lane:pos", until ms
local now = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  local u = tonumber(ARGV[i + 1])
  if s and tonumber(s) > now and u < tonumber(s) then redis.call('ZADD', KEYS[1], u, ARGV[i]) end
end
return 1
