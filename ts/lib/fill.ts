/**
 * Cache fills that an invalidation cancels. A fill (getOrSet, warming) takes a write
 * lease in `{key}:lease` before it loads from the database; every invalidation deletes
 * the leases of the keys it deletes; the fill's write is a script that stores the value
 * only while its lease is still there. So a value loaded before an invalidation is
 * never stored after it. The lease shares the key's hash slot, so each check-and-write
 * and each delete of a key with its lease is atomic on Redis Cluster too.
 */
import { randomBytes } from 'node:crypto';
import { unexpectedReply } from './errors';
import type { Dispatcher } from './dispatcher';
import { registerScript } from './native';
import { sameSlotKey } from './slot';

/** How long a lease lives: a load that takes longer is returned to its caller but not stored. */
export const LEASE_TTL_MS = 60_000;

// KEYS: lease. ARGV: fresh token, ttl ms. Fills that begin while a lease is live share it.
const BEGIN = registerScript(`
local token = redis.call('GET', KEYS[1])
if token then return token end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`);

// KEYS: key, lease. ARGV: token, value, ttl in seconds (0 = none). 1 stored, 0 refused.
const STORE = registerScript(`
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
const DELETE = registerScript(`
redis.call('DEL', KEYS[2])
return redis.call('DEL', KEYS[1])
`);

// KEYS: lease. ARGV: token, ttl ms. 1 while the lease is the token's (its TTL reset), else 0.
const RENEW = registerScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

// KEYS: lease. ARGV: token. Ends the lease if it is still the token's.
const RELEASE = registerScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`);

// KEYS: key, lease. What a waiting fill looks at: the value (false if none) and the lease's token (false if none).
const PEEK = registerScript(`
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}
`);

/** `{key}:lease`, in the key's hash slot (see sameSlotKey). */
export function leaseKey(key: string): string {
  return sameSlotKey(key, ':lease');
}

/** The keys an invalidation deletes: each key followed by its lease, so one DEL/UNLINK cancels the fills in flight. */
export function withLeases(keys: string[]): string[] {
  return keys.flatMap((key) => [key, leaseKey(key)]);
}

/** One fill to store: the key, the lease token its fill began with, the JSON text and a TTL in seconds. */
export type Fill = [key: string, token: string, json: string, ttlSeconds: number | undefined];

/** Takes (or joins) a lease for each key, before the load; resolves to the tokens in key order. */
export function beginFills(dispatcher: Dispatcher, keys: string[]): Promise<string[]> {
  const token = randomBytes(12).toString('base64url');
  return Promise.all(
    keys.map((key) =>
      dispatcher.script(BEGIN, [leaseKey(key)], [token, String(LEASE_TTL_MS)], (reply: unknown) => {
        if (typeof reply !== 'string') throw unexpectedReply('cache fill lease', reply);
        return reply;
      }),
    ),
  );
}

/**
 * Takes the lease of one key for `ttlMs`, or learns whose it is: `own` is false when another fill
 * (in any process) holds it, and `token` is then that fill's.
 */
export function takeLease(
  dispatcher: Dispatcher,
  key: string,
  ttlMs: number,
): Promise<{ token: string; own: boolean }> {
  const mine = randomBytes(12).toString('base64url');
  return dispatcher.script(BEGIN, [leaseKey(key)], [mine, String(ttlMs)], (reply: unknown) => {
    if (typeof reply !== 'string') throw unexpectedReply('cache fill lease', reply);
    return { token: reply, own: reply === mine };
  });
}

/** Keeps the lease `token` for another `ttlMs`; false once it is no longer the token's (invalidated, or expired). */
export function renewLease(dispatcher: Dispatcher, key: string, token: string, ttlMs: number): Promise<boolean> {
  return dispatcher.script(RENEW, [leaseKey(key)], [token, String(ttlMs)], (reply: unknown) => reply === 1);
}

/** Ends the lease `token` (a fill that will not store), so fills waiting on it go on at once. */
export function releaseLease(dispatcher: Dispatcher, key: string, token: string): Promise<void> {
  return dispatcher.script(RELEASE, [leaseKey(key)], [token], () => undefined);
}

/** The stored text of `key` (null when missing) and the token of its lease (null when none). */
export function peekFill(dispatcher: Dispatcher, key: string): Promise<{ text: string | null; lease: string | null }> {
  return dispatcher.script(PEEK, [key, leaseKey(key)], [], (reply: unknown) => {
    if (!Array.isArray(reply) || reply.length !== 2) throw unexpectedReply('cache fill peek', reply);
    const [text, lease] = reply as unknown[];
    return { text: typeof text === 'string' ? text : null, lease: typeof lease === 'string' ? lease : null };
  });
}

/** Stores each fill whose lease still holds; resolves to which were stored (false: invalidated or lease expired). */
export function storeFills(dispatcher: Dispatcher, fills: Fill[]): Promise<boolean[]> {
  return Promise.all(
    fills.map(([key, token, json, ttl]) =>
      dispatcher.script(STORE, [key, leaseKey(key)], [token, json, String(ttl ?? 0)], (reply: unknown) => {
        if (reply !== 0 && reply !== 1) throw unexpectedReply('cache fill write', reply);
        return reply === 1;
      }),
    ),
  );
}

/** Deletes a key and its lease in one step; resolves to whether the key existed. */
export function deleteWithLease(dispatcher: Dispatcher, key: string): Promise<boolean> {
  return dispatcher.script(DELETE, [key, leaseKey(key)], [], (reply: unknown) => {
    if (typeof reply !== 'number') throw unexpectedReply('cache delete', reply);
    return reply > 0;
  });
}

/**
 * Single flight: concurrent runs for one key share the first one's promise. The map holds
 * a holder that forgets the promise when it settles, so a churning Map's old backing
 * stores (see PendingTable) cannot keep loaded values alive.
 */
export class SingleFlight {
  private readonly running = new Map<string, { flight?: Promise<unknown> }>();

  run<T>(key: string, start: () => Promise<T>): Promise<T> {
    const current = this.running.get(key)?.flight;
    if (current) return current as Promise<T>;
    const holder: { flight?: Promise<unknown> } = {};
    const flight = start().finally(() => {
      holder.flight = undefined;
      this.running.delete(key);
    });
    holder.flight = flight;
    this.running.set(key, holder);
    return flight;
  }
}
