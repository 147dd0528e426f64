"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.SingleFlight = exports.LEASE_TTL_MS = void 0;
exports.leaseKey = leaseKey;
exports.withLeases = withLeases;
exports.beginFills = beginFills;
exports.storeFills = storeFills;
exports.deleteWithLease = deleteWithLease;
/**
 * Cache fills that an invalidation cancels. A fill (getOrSet, warming) takes a write
 * lease in `{key}:lease` before it loads from the database; every invalidation deletes
 * the leases of the keys it deletes; the fill's write is a script that stores the value
 * only while its lease is still there. So a value loaded before an invalidation is
 * never stored after it. The lease shares the key's hash slot, so each check-and-write
 * and each delete of a key with its lease is atomic on Redis Cluster too.
 */
const node_crypto_1 = require("node:crypto");
const errors_1 = require("./errors");
const native_1 = require("./native");
const slot_1 = require("./slot");
/** How long a lease lives: a load that takes longer is returned to its caller but not stored. */
exports.LEASE_TTL_MS = 60_000;
// KEYS: lease. ARGV: fresh token, ttl ms. Fills that begin while a lease is live share it.
const BEGIN = (0, native_1.registerScript)(`
local token = redis.call('GET', KEYS[1])
if token then return token end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`);
// KEYS: key, lease. ARGV: token, value, ttl in seconds (0 = none). 1 stored, 0 refused.
const STORE = (0, native_1.registerScript)(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
`);
// KEYS: key, lease. The key's DEL count (the lease does not count).
const DELETE = (0, native_1.registerScript)(`
redis.call('DEL', KEYS[2])
return redis.call('DEL', KEYS[1])
`);
/** `{key}:lease`, in the key's hash slot (see sameSlotKey). */
function leaseKey(key) {
    return (0, slot_1.sameSlotKey)(key, ':lease');
}
/** The keys an invalidation deletes: each key followed by its lease, so one DEL/UNLINK cancels the fills in flight. */
function withLeases(keys) {
    return keys.flatMap((key) => [key, leaseKey(key)]);
}
/** Takes (or joins) a lease for each key, before the load; resolves to the tokens in key order. */
function beginFills(dispatcher, keys) {
    const token = (0, node_crypto_1.randomBytes)(12).toString('base64url');
    return Promise.all(keys.map((key) => dispatcher.script(BEGIN, [leaseKey(key)], [token, String(exports.LEASE_TTL_MS)], (reply) => {
        if (typeof reply !== 'string')
            throw (0, errors_1.unexpectedReply)('cache fill lease', reply);
        return reply;
    })));
}
/** Stores each fill whose lease still holds; resolves to which were stored (false: invalidated or lease expired). */
function storeFills(dispatcher, fills) {
    return Promise.all(fills.map(([key, token, json, ttl]) => dispatcher.script(STORE, [key, leaseKey(key)], [token, json, String(ttl ?? 0)], (reply) => {
        if (reply !== 0 && reply !== 1)
            throw (0, errors_1.unexpectedReply)('cache fill write', reply);
        return reply === 1;
    })));
}
/** Deletes a key and its lease in one step; resolves to whether the key existed. */
function deleteWithLease(dispatcher, key) {
    return dispatcher.script(DELETE, [key, leaseKey(key)], [], (reply) => {
        if (typeof reply !== 'number')
            throw (0, errors_1.unexpectedReply)('cache delete', reply);
        return reply > 0;
    });
}
/**
 * Single flight: concurrent runs for one key share the first one's promise. The map holds
 * a holder that forgets the promise when it settles, so a churning Map's old backing
 * stores (see PendingTable) cannot keep loaded values alive.
 */
class SingleFlight {
    running = new Map();
    run(key, start) {
        const current = this.running.get(key)?.flight;
        if (current)
            return current;
        const holder = {};
        const flight = start().finally(() => {
            holder.flight = undefined;
            this.running.delete(key);
        });
        holder.flight = flight;
        this.running.set(key, holder);
        return flight;
    }
}
exports.SingleFlight = SingleFlight;
