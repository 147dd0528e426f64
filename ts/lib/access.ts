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
import { allOrError, type Dispatcher } from './dispatcher';
import { RedisLayerError, unexpectedReply } from './errors';
import { describeError, log } from './logger';
import type { OperationEvent } from './telemetry';

/** A fail-soft method's answer to Redis trouble. */
export type Recover<T> = (error: unknown) => T;

/** Logs the trouble as `context` (with `meta`, then the error's code and message) and answers `fallback`. */
export function failSoft<T>(
  context: string,
  meta: Record<string, unknown>,
  fallback: T,
  traced?: OperationEvent,
): Recover<T> {
  return (error) => {
    log('error', context, { ...meta, ...describeError(error) });
    if (traced !== undefined) traced.outcome = 'fail-soft';
    return fallback;
  };
}

/** Runs `call` on the command socket, or, when not connected, answers what `recover` makes of that. */
export function softly<T>(
  connection: RedisConnection,
  recover: Recover<T>,
  call: (dispatcher: Dispatcher) => Promise<T>,
): Promise<T> {
  let dispatcher: Dispatcher;
  try {
    dispatcher = connection.dispatcher();
  } catch (error) {
    return Promise.resolve(recover(error));
  }
  return call(dispatcher);
}

/** How many replicas a write must reach, and how long to wait for them: the settings sessions and locks share. */
export interface ReplicaSettings {
  waitForReplicas: number;
  replicaTimeoutMs: number;
}

/** The replica settings from a service's options, checked; defaults: no replicas, 200 ms. */
export function replicaSettings(
  options: { waitForReplicas?: unknown; replicaTimeoutMs?: unknown } | undefined,
): ReplicaSettings {
  const replicas = options?.waitForReplicas ?? 0;
  const timeout = options?.replicaTimeoutMs ?? 200;
  if (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 0) {
    throw new RangeError(`options.waitForReplicas must be a non-negative integer, got ${String(replicas)}`);
  }
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout <= 0) {
    throw new RangeError(`options.replicaTimeoutMs must be a positive integer of milliseconds, got ${String(timeout)}`);
  }
  return { waitForReplicas: replicas, replicaTimeoutMs: timeout };
}

/**
 * Strict: Redis WAIT on the node holding `key` (the EXISTS routes the pipeline there on a
 * cluster and orders it after the caller's write) until `replicas` acknowledged it, within
 * `timeoutMs`; fewer reject with ERR_NOT_REPLICATED, naming `what`.
 */
export async function requireReplicated(
  connection: RedisConnection,
  key: string,
  replicas: number,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const replies = await connection.dispatcher().pipeline(
    [
      ['EXISTS', key],
      ['WAIT', String(replicas), String(timeoutMs)],
    ],
    false,
    allOrError,
  );
  const reached = replies[1];
  if (typeof reached !== 'number') throw unexpectedReply('WAIT', reached);
  if (reached < replicas) {
    throw new RedisLayerError(
      'ERR_NOT_REPLICATED',
      `${what} reached ${reached} of ${replicas} replicas within ${timeoutMs} ms`,
    );
  }
}
