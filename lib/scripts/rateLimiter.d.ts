/**
 * Sliding log: one sorted-set entry per allowed request, scored by its time in whole
 * ms (the seed's format). ARGV: windowMs, maxRequests.
 * Reply: {allowed 0|1, entries in window, oldest entry score, now}.
 */
export declare const SLIDING_LOG = "\nlocal t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n\nlocal window = tonumber(ARGV[1])\nlocal max = tonumber(ARGV[2])\nlocal trimmed = redis.pcall('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\nif type(trimmed) == 'table' and trimmed.err then redis.call('DEL', KEYS[1]) end\nlocal count = redis.call('ZCARD', KEYS[1])\nlocal allowed = 0\nif count < max then\n  -- Microseconds plus the count are unique even for two requests in one microsecond:\n  -- nothing leaves the set between them, so the second sees a larger count.\n  redis.call('ZADD', KEYS[1], now, t[1] .. string.format('%06d', tonumber(t[2])) .. '-' .. count)\n  redis.call('PEXPIRE', KEYS[1], window)\n  count = count + 1\n  allowed = 1\nend\nlocal oldest = now\nif allowed == 0 or count > 1 then oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) end\nreturn {allowed, count, oldest, now}\n";
/**
 * GCRA: one string per key holding the theoretical arrival time (TAT). A request is
 * allowed when TAT + interval - window <= now; the full quota is a burst, after which
 * one request frees up every window / maxRequests ms. ARGV: windowMs, maxRequests.
 * Reply: {allowed 0|1, remaining, next slot time, now}.
 */
export declare const GCRA = "\nlocal t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n\nlocal window = tonumber(ARGV[1])\nlocal max = tonumber(ARGV[2])\nlocal interval = window / max\nlocal stored = redis.pcall('GET', KEYS[1])\nif type(stored) == 'table' and stored.err then\n  redis.call('DEL', KEYS[1])\n  stored = false\nend\nlocal tat = tonumber(stored or '') or now\nif tat < now then tat = now end\nlocal allowed = 0\n-- A thousandth of a millisecond of slack absorbs the rounding of the stored TAT.\nif now + 0.001 >= tat + interval - window then\n  tat = tat + interval\n  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now))\n  allowed = 1\nend\nlocal remaining = math.floor((now + window - tat) / interval + 0.000001)\nif remaining < 0 then remaining = 0 end\nlocal next_slot = tat - window + interval * (remaining + 1)\nreturn {allowed, remaining, string.format('%.3f', next_slot), string.format('%.3f', now)}\n";
