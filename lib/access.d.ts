/**
 * How service methods meet Redis trouble: not being connected, a Redis error, a reply of
 * the wrong shape. Every method has one policy, the seed's for it:
 * - strict (session writes, locks, warming, the broker): the trouble rejects, as a
 *   RedisLayerError with its code. Such methods take `connection.dispatcher()`, which
 *   throws ERR_NOT_CONNECTED before connect() and after close(), and pass no `recover`.
 * - fail-soft (the caches, session reads, rate limits): the trouble is logged under the
 *   method's context and the method answers its fallback (null, false, -1, 0, []). Such
 *   methods build that answer once with `failSoft` and hand it to every path: as the
 *   dispatcher's `recover`, to `softly` for the not-connected case, or in their `catch`.
 */
import type { RedisConnection } from './connection';
import { type Dispatcher } from './dispatcher';
/** A fail-soft method's answer to Redis trouble. */
export type Recover<T> = (error: unknown) => T;
/** Logs the trouble as `context` (with `meta`, then the error's code and message) and answers `fallback`. */
export declare function failSoft<T>(context: string, meta: Record<string, unknown>, fallback: T): Recover<T>;
/** Runs `call` on the command socket, or, when not connected, answers what `recover` makes of that. */
export declare function softly<T>(connection: RedisConnection, recover: Recover<T>, call: (dispatcher: Dispatcher) => Promise<T>): Promise<T>;
/**
 * Strict: Redis WAIT on the node holding `key` (the EXISTS routes the pipeline there on a
 * cluster and orders it after the caller's write): how many replicas acknowledged, within
 * timeoutMs.
 */
export declare function replicaAcks(connection: RedisConnection, key: string, replicas: number, timeoutMs: number): Promise<number>;
