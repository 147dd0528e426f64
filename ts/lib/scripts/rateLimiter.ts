/**
 * Lua for RateLimiter. Time comes from the Redis server (TIME), not from the callers:
 * every app server then judges one window by one clock, so a client whose clock runs
 * ahead cannot expire other clients' entries early (or hold them late). Fractional
 * values travel as strings because Lua numbers become integers in replies.
 *
 * One key per call (KEYS[1]), so each script is cluster-safe as it stands.
 */

const SERVER_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local kind = redis.call('TYPE', KEYS[1]).ok
`;

/**
 * Sliding log: one sorted-set entry per allowed request, scored by its time (ms, with
 * microseconds). ARGV: windowMs, maxRequests.
 * Reply: {allowed 0|1, entries in window, oldest entry score, now}.
 */
export const SLIDING_LOG = `${SERVER_NOW}
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.3f', now - window))
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < max then
  -- Microseconds plus the count are unique even for two requests in one microsecond:
  -- nothing leaves the set between them, so the second sees a larger count.
  redis.call('ZADD', KEYS[1], string.format('%.3f', now), t[1] .. string.format('%06d', tonumber(t[2])) .. '-' .. count)
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or string.format('%.3f', now)
return {allowed, count, oldest, string.format('%.3f', now)}
`;

/**
 * GCRA: one string per key holding the theoretical arrival time (TAT). A request is
 * allowed when TAT + interval - window <= now; the full quota is a burst, after which
 * one request frees up every window / maxRequests ms. ARGV: windowMs, maxRequests.
 * Reply: {allowed 0|1, remaining, next slot time, now}.
 */
export const GCRA = `${SERVER_NOW}
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local interval = window / max
if kind ~= 'string' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local allowed = 0
-- A thousandth of a millisecond of slack absorbs the rounding of the stored TAT.
if now + 0.001 >= tat + interval - window then
  tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now))
  allowed = 1
end
local remaining = math.floor((now + window - tat) / interval + 0.000001)
if remaining < 0 then remaining = 0 end
local next_slot = tat - window + interval * (remaining + 1)
return {allowed, remaining, string.format('%.3f', next_slot), string.format('%.3f', now)}
`;
