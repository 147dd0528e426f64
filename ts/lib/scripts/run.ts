import type { RedisConnection } from '../connection';
import { RedisLayerError, fromNative, unexpectedReply } from '../errors';

/** The command client, or a rejected-style error with a stable code while not connected. */
function dispatcherOf(connection: RedisConnection) {
  try {
    return connection.getClient().dispatcher;
  } catch (error) {
    throw new RedisLayerError('ERR_NOT_CONNECTED', (error as Error)?.message ?? String(error));
  }
}

/** Runs a registered script; rejects with a RedisLayerError on any Redis trouble. */
export function runScript<T = unknown>(
  connection: RedisConnection,
  handle: number,
  keys: string[],
  args: string[],
  map?: (reply: any) => T,
): Promise<T> {
  try {
    const dispatcher = dispatcherOf(connection);
    return dispatcher.run<T>((id) => dispatcher.native.script(id, handle, keys, args), map);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Several commands in one round trip (not atomic); a failed command rejects the whole call. */
export function runPipeline(connection: RedisConnection, commands: string[][]): Promise<unknown[]> {
  try {
    const dispatcher = dispatcherOf(connection);
    return dispatcher.run<unknown[]>(
      (id) => dispatcher.native.pipeline(id, commands, false),
      (replies: unknown[]) =>
        replies.map((reply) => {
          if (reply !== null && typeof reply === 'object' && !Array.isArray(reply)) throw fromNative(reply);
          return reply;
        }),
    );
  } catch (error) {
    return Promise.reject(error);
  }
}

/** One command; rejects with a RedisLayerError on any Redis trouble. */
export function runCommand<T = unknown>(connection: RedisConnection, args: string[]): Promise<T> {
  try {
    const dispatcher = dispatcherOf(connection);
    return dispatcher.run<T>((id) => dispatcher.native.command(id, args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Redis WAIT on the node holding `key` (the EXISTS routes the pipeline there on a cluster
 * and orders it after the caller's write): how many replicas acknowledged, within timeoutMs.
 */
export async function replicaAcks(connection: RedisConnection, key: string, replicas: number, timeoutMs: number): Promise<number> {
  const replies = await runPipeline(connection, [
    ['EXISTS', key],
    ['WAIT', String(replicas), String(timeoutMs)],
  ]);
  const reached = replies[1];
  if (typeof reached !== 'number') throw unexpectedReply('WAIT', reached);
  return reached;
}
