import type { RedisConnection } from '../connection';
/** Runs a registered script; rejects with a RedisLayerError on any Redis trouble. */
export declare function runScript<T = unknown>(connection: RedisConnection, handle: number, keys: string[], args: string[], map?: (reply: any) => T): Promise<T>;
/** Several commands in one round trip (not atomic); a failed command rejects the whole call. */
export declare function runPipeline(connection: RedisConnection, commands: string[][]): Promise<unknown[]>;
/** One command; rejects with a RedisLayerError on any Redis trouble. */
export declare function runCommand<T = unknown>(connection: RedisConnection, args: string[]): Promise<T>;
/**
 * Redis WAIT on the node holding `key` (the EXISTS routes the pipeline there on a cluster
 * and orders it after the caller's write): how many replicas acknowledged, within timeoutMs.
 */
export declare function replicaAcks(connection: RedisConnection, key: string, replicas: number, timeoutMs: number): Promise<number>;
