"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.GCRA = exports.SLIDING_LOG = void 0;
/**
 * Lua for RateLimiter. Time comes from the Redis server (TIME), not from the callers:
 * every app server then judges one window by one clock, so a client whose clock runs
 * ahead cannot expire other clients' entries early (or hold them late). Fractional
 * values travel as strings because Lua numbers become integers in replies.
 *
 * One key per call (KEYS[1]), so each script is cluster-safe as it stands.
 *
 * Every redis.call adds Lua glue on top of the command, and sorted-set scores stored
 * as text are re-parsed on every insert (a listpack walk), so both scripts keep their
 * calls few and their scores integers:
 * whole milliseconds, the unit the seed stores. A key of another type (a leftover
 * from other code) is detected by the first call's error instead of a TYPE per call.
 */
const SERVER_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- The script's first call on KEYS[1]. A key of another type is dropped and reads as
-- missing (false); any other error (OOM, say) stops the script with the key intact.
local function first_call(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    if not string.find(reply.err, 'WRONGTYPE', 1, true) then error(reply) end
    redis.call('DEL', KEYS[1])
    return false
  end
  return reply
end
`;
/**
 * Sliding log: one sorted-set entry per allowed request, scored by its time in whole
 * ms (the seed's format). ARGV: windowMs, maxRequests (a third, GCRA's burst, is unused).
 * Reply: {allowed 0|1, entries in window, oldest entry score, now}.
 */
exports.SLIDING_LOG = `${SERVER_NOW}
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
first_call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < max then
  -- Microseconds plus the count are unique even for two requests in one microsecond:
  -- nothing leaves the set between them, so the second sees a larger count.
  redis.call('ZADD', KEYS[1], now, t[1] .. string.format('%06d', tonumber(t[2])) .. '-' .. count)
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  allowed = 1
end
local oldest = now
if allowed == 0 or count > 1 then oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) end
return {allowed, count, oldest, now}
`;
/**
 * GCRA: one string per key holding the theoretical arrival time (TAT). Requests are
 * spaced interval = window / maxRequests apart, and up to burst of them may come at
 * once: a request is allowed when TAT - (burst - 1) * interval <= now. Any n allowed
 * requests then span at least (n - burst) * interval, so a window holds at most
 * burst + maxRequests - 1. ARGV: windowMs, maxRequests, burst.
 * Reply: {allowed 0|1, remaining, next slot time, now}.
 */
exports.GCRA = `${SERVER_NOW}
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local interval = window / max
local tat = tonumber(first_call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local allowed = 0
-- A thousandth of a millisecond of slack absorbs the rounding of the stored TAT.
if now + 0.001 >= tat - (burst - 1) * interval then
  tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now))
  allowed = 1
end
local remaining = math.floor((now + burst * interval - tat) / interval + 0.000001)
if remaining < 0 then remaining = 0 end
local next_slot = tat - burst * interval + interval * (remaining + 1)
return {allowed, remaining, string.format('%.3f', next_slot), string.format('%.3f', now)}
`;
