-- tollgate: admit one request against every counter in KEYS, atomically.
--
-- ARGV[1], ARGV[2]: now as Unix seconds and nanoseconds, or '' to use the
-- server's TIME (production: one clock for every instance).
-- Then 5 values per key i, from ARGV[3 + 5*(i-1)]:
--   kind   'r' rate, 'c' concurrency, 'q' quota, 'b' balance
--   limit  units
--   cost   units
--   a      rate: emission interval (ns); concurrency: slot TTL (ms);
--          quota: window end (Unix ns) if a new window starts
--   b      concurrency: slot id; otherwise ''
--
-- Reply: {allowed (1|0), denied index (0-based, -1), now s, now ns,
--         then 3 values per key: remaining, reset, retry}
-- where reset is ns for rate (time until fully refilled), the window end
-- (Unix ns, as a string) for quota and 0 otherwise, and retry is how long a
-- refused rate limit needs (ns; 0 otherwise). {-1, i} means key i is a
-- quota whose new window has already ended.
--
-- The helpers and `now` come from prelude.lua, prepended by Go.
local n = #KEYS
local denied = -1
local plan = {}

-- Decide every limit; write nothing yet (dropping expired slots aside).
for i = 1, n do
  local base = 3 + 5 * (i - 1)
  local key, kind = KEYS[i], ARGV[base]
  local lim, cost, a = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), ARGV[base + 3]
  -- p.rem0/p.reset0: the counter as it stands; p.rem1/p.reset1: with
  -- this request taken.
  local p = {allow = false, reset0 = 0, reset1 = 0, retry = 0}
  if kind == 'r' then
    local t = tonumber(a)
    local tau = t * lim
    local debt = 0
    local v = redis.call('GET', key)
    if v then debt = math.max(ahead(v), 0) end
    p.rem0, p.reset0 = 0, debt
    if debt < tau then p.rem0 = idiv(tau - debt, t) end
    if cost <= lim then
      local nd = debt + cost * t
      if nd <= tau then
        p.allow, p.rem1, p.reset1, p.debt = true, idiv(tau - nd, t), nd, nd
      else
        p.retry = nd - tau
      end
    end
  elseif kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now_ms))
    local held = redis.call('ZCARD', key)
    p.rem0 = math.max(lim - held, 0)
    if held < lim then
      p.allow, p.rem1 = true, lim - held - 1
      p.ttl = tonumber(a)
    end
  elseif kind == 'q' then
    local h = redis.call('HMGET', key, 'u', 'e')
    local used, e, fresh = 0, a, true
    if h[2] and ahead(h[2]) > 0 then
      used, e, fresh = tonumber(h[1]) or 0, h[2], false
    end
    if fresh and ahead(e) <= 0 then return {-1, i - 1} end
    local left = lim - used
    p.rem0, p.reset0, p.reset1, p.e, p.fresh = math.max(left, 0), e, e, e, fresh
    if cost <= left and cost <= lim then p.allow, p.rem1 = true, left - cost end
  else -- 'b'
    local used = tonumber(redis.call('GET', key) or '0')
    local left = lim - used
    p.rem0 = math.max(left, 0)
    if cost <= left then p.allow, p.rem1 = true, left - cost end
  end
  plan[i] = p
  if not p.allow and denied < 0 then denied = i - 1 end
end

local out = {1, -1, now_s, now_n}
if denied >= 0 then
  out[1], out[2] = 0, denied
  for i = 1, n do
    local p = plan[i]
    out[#out + 1], out[#out + 2], out[#out + 3] = p.rem0, p.reset0, p.retry
  end
  return out
end

-- Every limit allows: take them all.
for i = 1, n do
  local p = plan[i]
  local base = 3 + 5 * (i - 1)
  local key, kind, cost = KEYS[i], ARGV[base], ARGV[base + 2]
  if kind == 'r' then
    if p.debt > 0 then
      redis.call('SET', key, at(p.debt), 'PX', string.format('%d', math.ceil(p.debt / 1000000)))
    end
  elseif kind == 'c' then
    redis.call('ZADD', key, string.format('%d', now_ms + p.ttl), ARGV[base + 4])
    if redis.call('PTTL', key) < p.ttl then
      redis.call('PEXPIRE', key, string.format('%d', p.ttl))
    end
  elseif kind == 'q' then
    if p.fresh then
      redis.call('DEL', key)
      redis.call('HSET', key, 'u', cost, 'e', p.e)
      redis.call('PEXPIRE', key, string.format('%d', ms_until(p.e)))
    else
      redis.call('HINCRBY', key, 'u', cost)
    end
  else
    redis.call('INCRBY', key, cost)
  end
  out[#out + 1], out[#out + 2], out[#out + 3] = p.rem1, p.reset1, 0
end
return out
