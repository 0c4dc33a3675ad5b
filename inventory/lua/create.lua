-- create.lua adds an event: its definition, its meta hash and each section's counters and seat string.
-- KEYS: 1 prefix, 2 meta, 3 deadline, 4 definition, then for each section its counters hash and seat string.
-- ARGV: 1 definition JSON, 2 hold TTL ms, 3 max hold life ms, 4 checkout TTL ms, 5 max per fan, 6 currency,
--       7 section ids joined by ",", 8 S, then per section: kind, capacity, price, withheld, rows "label:offset:seats,…".
if redis.call('EXISTS', K_META) == 1 then return fail('EVENT_EXISTS') end
local S = tonumber(ARGV[8])
for i = 1, S do
  if redis.call('EXISTS', KEYS[3 + 2 * i]) == 1 then return fail('EVENT_EXISTS', 'section key') end
end
redis.call('SET', KEYS[4], ARGV[1])
redis.call('HSET', K_META, 'ttl', ARGV[2], 'maxlife', ARGV[3], 'cotl', ARGV[4], 'maxfan', ARGV[5], 'cur', ARGV[6],
  'secs', ARGV[7])
for i = 1, S do
  local b = 8 + 5 * (i - 1)
  local kind, cap, price, wh, rows = ARGV[b + 1], tonumber(ARGV[b + 2]), ARGV[b + 3], tonumber(ARGV[b + 4]), ARGV[b + 5]
  redis.call('HSET', KEYS[3 + 2 * i], 'kind', kind, 'cap', cap, 'avail', cap - wh, 'held', 0, 'sold', 0, 'wh', wh,
    'ver', 0, 'price', price, 'rows', rows)
  if kind == 'seated' then
    redis.call('SET', KEYS[4 + 2 * i], string.rep('0', cap - wh) .. string.rep('w', wh))
  end
end
return 'OK'
