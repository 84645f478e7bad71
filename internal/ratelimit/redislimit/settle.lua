-- tollgate: settle one ticket: correct each counter in KEYS by the actual
-- use, release concurrency slots.
--
-- After ARGV[1], ARGV[2] (now, see prelude.lua), 3 values per key i, from
-- ARGV[3 + 3*(i-1)]:
--   kind   'r' rate, 'c' concurrency, 'q' quota, 'b' balance
--   delta  actual minus cost, in units (negative: a refund)
--   a      rate: emission interval (ns); quota: end of the window the cost
--          went into (Unix ns); concurrency: slot id
--
-- A rate refund never takes the counter below empty, a charge never more
-- than MAXDEBT ahead; a quota correction is dropped once its window ended.
-- Reply: the number of keys.
local MAXDEBT = 4503599627370496 -- 2^52 ns, ratelimit.MaxPeriod

for i = 1, #KEYS do
  local base = 3 + 3 * (i - 1)
  local key, kind, delta, a = KEYS[i], ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local d = tonumber(delta)
  if kind == 'r' then
    if d ~= 0 then
      local t = tonumber(a)
      local debt = 0
      local v = redis.call('GET', key)
      if v then debt = math.max(ahead(v), 0) end
      local nd = debt + d * t
      if nd > MAXDEBT then nd = MAXDEBT elseif nd < 0 then nd = 0 end
      if nd > 0 then
        redis.call('SET', key, at(nd), 'PX', string.format('%d', math.ceil(nd / 1000000)))
      else
        redis.call('DEL', key)
      end
    end
  elseif kind == 'c' then
    redis.call('ZREM', key, a)
  elseif kind == 'q' then
    if d ~= 0 and redis.call('HGET', key, 'e') == a and ahead(a) > 0 then
      redis.call('HINCRBY', key, 'u', delta)
    end
  elseif d ~= 0 then
    redis.call('INCRBY', key, delta)
  end
end
return #KEYS
