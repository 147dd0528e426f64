/**
 * Lua for LockService. The lock key holds the holder's random token; only a caller
 * presenting that token can release or extend it.
 *
 * Cluster: acquire touches `lock:<resource>` and its fence `{lock:<resource>}:fence`,
 * both in KEYS and in one hash slot (see lockFenceKey).
 */
/**
 * KEYS: lock, fence. ARGV: token, ttlMs, fenceTtlMs.
 * The fencing token is max(last + 1, server time in µs): it grows with every grant,
 * and still grows after the fence key expired (an idle resource keeps no state).
 * Reply: { fencing token as a string, replicas online (synced, streaming) on this
 * server }, or nil when the lock is held. The caller WAITs for those replicas before
 * handing out the token.
 */
export declare const LOCK_ACQUIRE = "\nif not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end\nlocal t = redis.call('TIME')\nlocal fence = tonumber(t[1]) * 1000000 + tonumber(t[2])\nlocal last = tonumber(redis.call('GET', KEYS[2]) or '')\nif last and last + 1 > fence then fence = last + 1 end\nlocal text = string.format('%.0f', fence)\nredis.call('SET', KEYS[2], text, 'PX', ARGV[3])\nlocal replicas = 0\nfor _ in string.gmatch(redis.call('INFO', 'replication'), 'state=online') do replicas = replicas + 1 end\nreturn { text, replicas }\n";
/** KEYS: lock. ARGV: token. Reply: 1 released | 0 not the holder (or expired). */
export declare const LOCK_RELEASE = "\nif redis.call('GET', KEYS[1]) == ARGV[1] then\n  redis.call('DEL', KEYS[1])\n  return 1\nend\nreturn 0\n";
/** KEYS: lock. ARGV: token, ttlMs. Reply: 1 extended | 0 not the holder (or expired). */
export declare const LOCK_EXTEND = "\nif redis.call('GET', KEYS[1]) == ARGV[1] then\n  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n  return 1\nend\nreturn 0\n";
