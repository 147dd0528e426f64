"use strict";
/**
 * Lua for LockService. The lock key holds the holder's random token; only a caller
 * presenting that token can release or extend it.
 *
 * Cluster: acquire touches `lock:<resource>` and its fence `{lock:<resource>}:fence`,
 * both in KEYS and in one hash slot (see lockFenceKey).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.LOCK_EXTEND = exports.LOCK_RELEASE = exports.LOCK_ACQUIRE = void 0;
/**
 * KEYS: lock, fence. ARGV: token, ttlMs, fenceTtlMs.
 * The fencing token is max(last + 1, server time in µs): it grows with every grant,
 * and still grows after the fence key expired (an idle resource keeps no state).
 * Reply: { fencing token as a string, replicas online (synced, streaming) on this
 * server }, or nil when the lock is held. The caller WAITs for those replicas before
 * handing out the token.
 */
exports.LOCK_ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local t = redis.call('TIME')
local fence = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '')
if last and last + 1 > fence then fence = last + 1 end
local text = string.format('%.0f', fence)
redis.call('SET', KEYS[2], text, 'PX', ARGV[3])
local replicas = 0
for _ in string.gmatch(redis.call('INFO', 'replication'), 'state=online') do replicas = replicas + 1 end
return { text, replicas }
`;
/** KEYS: lock. ARGV: token. Reply: 1 released | 0 not the holder (or expired). */
exports.LOCK_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;
/** KEYS: lock. ARGV: token, ttlMs. Reply: 1 extended | 0 not the holder (or expired). */
exports.LOCK_EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;
