-- tollgate: helpers shared by admit.lua and settle.lua, which Go appends.
--
-- ARGV[1], ARGV[2] give now as Unix seconds and nanoseconds, or ARGV[1] is
-- '' to use the server's TIME (production: one clock for every instance).
--
-- Times are kept as (seconds, nanoseconds) pairs and stored as Unix ns
-- strings, and every number handed to Redis is formatted with %d, because
-- Lua numbers are doubles: exact below 2^53, which the Go side guarantees
-- for units (ratelimit.MaxUnits) and relative times (ratelimit.MaxPeriod).
local NS = 1000000000

local now_s, now_n
if ARGV[1] ~= '' then
  now_s, now_n = tonumber(ARGV[1]), tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now_s, now_n = tonumber(t[1]), tonumber(t[2]) * 1000
end
local now_ms = now_s * 1000 + math.floor(now_n / 1000000)

local function idiv(x, y) -- floor(x / y) for 0 <= x < 2^53, exactly
  local q = math.floor(x / y)
  while q * y > x do q = q - 1 end
  while (q + 1) * y <= x do q = q + 1 end
  return q
end

local function parse(v) -- Unix ns string -> seconds, ns
  local len = string.len(v)
  if len <= 9 then return 0, tonumber(v) end
  return tonumber(string.sub(v, 1, len - 9)), tonumber(string.sub(v, len - 8))
end

local function ahead(v) -- (Unix ns string v) - now, in ns, clamped to about +-2^53
  local s, n = parse(v)
  local ds = s - now_s
  if ds > 9000000 then ds = 9000000 elseif ds < -9000000 then ds = -9000000 end
  return ds * NS + (n - now_n)
end

local function at(d) -- now + d ns (0 <= d < 2^53) as a Unix ns string
  local t = now_n + d
  local q = idiv(t, NS)
  local s, n = now_s + q, t - q * NS
  if s == 0 then return string.format('%d', n) end
  return string.format('%d%09d', s, n)
end

local function ms_until(v) -- (Unix ns string v) - now, in whole ms rounded up
  local s, n = parse(v)
  local d = (s - now_s) * 1000 + (n - now_n) / 1000000
  return math.ceil(d)
end

