/**
 * Lua for RateLimiter. Time comes from the Redis server (TIME), not from the callers:
 * every app server then judges one window by one clock, so a client whose clock runs
 * ahead cannot expire other clients' entries early (or hold them late). Fractional
 * values travel as strings because Lua numbers become integers in replies.
 *
 * On Redis Cluster every key of one call is in one hash slot (the caller groups them).
 *
 * Every redis.call adds Lua glue on top of the command, and sorted-set scores stored
 * as text are re-parsed on every insert (a listpack walk), so both scripts keep their
 * calls few and their scores integers:
 * whole milliseconds, the unit the seed stores. A key of another type (a leftover
 * from other code) is detected by the first call's error instead of a TYPE per call.
 */
/** The first call on a key. A key of another type is dropped and reads as missing (false); any other error (OOM, say) stops the script with the key intact. */
const FIRST_CALL = `
local function first_call(key, ...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    if not string.find(reply.err, 'WRONGTYPE', 1, true) then error(reply) end
    redis.call('DEL', key)
    return false
  end
  return reply
end
`;

const SERVER_NOW = `${FIRST_CALL}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Both scripts decide every key of KEYS in turn, in one call: the checks a batch of callers
 * made together share the script's start-up and its TIME. ARGV holds three values per key
 * (windowMs, maxRequests, burst); the reply three per key (allowed 0|1, a count, a slot time)
 * and then now. A key repeated in KEYS sees the decisions before it.
 */

/**
 * Sliding log: one sorted-set entry per allowed request, scored by its time in whole ms (the
 * seed's format). Per key: {allowed, entries in window, slot}, where slot is now for an allowed
 * request (the window ends windowMs after it) and the oldest entry's time for a denied one (a
 * slot frees windowMs after it), read only then.
 */
export const SLIDING_LOG = `${SERVER_NOW}
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local window = tonumber(ARGV[3 * i - 2])
  local max = tonumber(ARGV[3 * i - 1])
  first_call(key, 'ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local allowed, slot = 0, now
  if count < max then
    -- The time and the count are unique: nothing leaves the set between two requests of one ms.
    redis.call('ZADD', key, now, now .. '-' .. count)
    redis.call('PEXPIRE', key, window)
    count = count + 1
    allowed = 1
  else
    slot = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  end
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = allowed, count, slot
end
out[3 * #KEYS + 1] = now
return out
`;

/**
 * GCRA: one string per key holding the theoretical arrival time (TAT). Requests are spaced
 * interval = window / maxRequests apart, and up to burst of them may come at once: a request is
 * allowed when TAT - (burst - 1) * interval <= now. Any n allowed requests then span at least
 * (n - burst) * interval, so a window holds at most burst + maxRequests - 1.
 * Per key: {allowed, remaining, next slot time}.
 */
export const GCRA = `${SERVER_NOW}
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local window = tonumber(ARGV[3 * i - 2])
  local max = tonumber(ARGV[3 * i - 1])
  local burst = tonumber(ARGV[3 * i])
  local interval = window / max
  local tat = tonumber(first_call(key, 'GET', key) or '') or now
  if tat < now then tat = now end
  local allowed = 0
  -- A thousandth of a millisecond of slack absorbs the rounding of the stored TAT.
  if now + 0.001 >= tat - (burst - 1) * interval then
    tat = tat + interval
    redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now))
    allowed = 1
  end
  local remaining = math.floor((now + burst * interval - tat) / interval + 0.000001)
  if remaining < 0 then remaining = 0 end
  out[3 * i - 2], out[3 * i - 1] = allowed, remaining
  out[3 * i] = string.format('%.3f', tat - burst * interval + interval * (remaining + 1))
end
out[3 * #KEYS + 1] = string.format('%.3f', now)
return out
`;

/**
 * A hit counter for middleware that decides on its own (express-rate-limit, @fastify/rate-limit):
 * one counter per client and fixed window, as their own stores keep, so memory per client stays
 * constant however fast it sends. ARGV: windowMs, max, past max: '' (the window stands),
 * 'continue' (each hit restarts it) or 'backoff' (each hit doubles it), @fastify/rate-limit's
 * continueExceeding and exponentialBackoff. Reply: {hits in the window, ms until it ends}.
 */
export const RECORD_HIT = `${FIRST_CALL}
local hits = first_call(KEYS[1], 'INCR', KEYS[1]) or redis.call('INCR', KEYS[1])
local window = tonumber(ARGV[1])
local over = hits > tonumber(ARGV[2])
local ttl
if hits == 1 or (over and ARGV[3] == 'continue') then
  ttl = window
elseif over and ARGV[3] == 'backoff' then
  ttl = math.floor(math.min(window * 2 ^ (hits - tonumber(ARGV[2]) - 1), 2 ^ 53 - 1))
else
  ttl = redis.call('PTTL', KEYS[1])
  if ttl >= 0 then return {hits, ttl} end
  ttl = window
end
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return {hits, ttl}
`;

/** The counter read without recording. Reply: {hits in the window, ms until it ends}, {0, false} when none. */
export const READ_HITS = `${FIRST_CALL}
local hits = tonumber(first_call(KEYS[1], 'GET', KEYS[1]) or '')
if not hits then return {0, false} end
return {hits, redis.call('PTTL', KEYS[1])}
`;

/** Takes back one hit of the window, never below zero and never creating the counter. Reply: hits left. */
export const DROP_HIT = `${FIRST_CALL}
local hits = tonumber(first_call(KEYS[1], 'GET', KEYS[1]) or '')
if not hits or hits <= 0 then return 0 end
return redis.call('DECR', KEYS[1])
`;
