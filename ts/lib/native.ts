import type { NativeOptions } from '../binding';
import { RedisLayerError, fromNative } from './errors';
import { log } from './logger';
import { PendingTable } from './pending';
import { batchIds, NativeQueue } from './queue';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('../binding') = require('../binding.js');

export type { NativeOptions };
export const registerScript: (source: string) => number = binding.registerScript;
export const describeTarget: (options: NativeOptions) => string = binding.describeTarget;

const MAX_ID = 0xffffffff;

/**
 * One native socket. Calls are queued by id; the native side answers in batches
 * (one wake-up of this thread for many results), and results are turned into
 * values here, in the caller's realm.
 */
export class Dispatcher {
  readonly native: NativeQueue;
  private readonly pending = new PendingTable();
  private nextId = 1;

  constructor(options: NativeOptions, role: string) {
    const client = new binding.NativeClient(
      options,
      (batch) => this.settle(batch),
      ([level, message]) => log(level as 'info', message, { role }),
    );
    this.native = new NativeQueue(client, (ops, error) => this.failBatch(ops, error));
  }

  /**
   * Queues one operation. `map` turns the reply into the result; `recover` turns a
   * Redis error into a result (fail-soft services) or rethrows it.
   */
  run<T>(
    submit: (id: number) => void,
    map?: (reply: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    const id = this.nextId;
    this.nextId = id === MAX_ID ? 1 : id + 1;
    return new Promise<T>((resolve, reject) => {
      this.pending.add({ id, resolve: resolve as (v: unknown) => void, reject, map, recover });
      try {
        submit(id);
      } catch (error) {
        this.pending.take(id);
        reject(fromNative(error));
      }
    });
  }

  /** `GET key`, without the closure `run` needs: the hottest call of every cache. */
  get<T>(key: string, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T> {
    const id = this.take();
    this.native.get(id, key);
    return this.track(id, map, recover);
  }

  /** `SET key value [EX ttl]`, resolving to the raw reply unless mapped. */
  set<T>(
    key: string,
    value: string,
    ttlSeconds: number | undefined,
    map?: (reply: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    const id = this.take();
    this.native.set(id, key, value, ttlSeconds);
    return this.track(id, map, recover);
  }

  /** Any command as `[name, ...args]`. */
  command<T>(args: string[], map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T> {
    const id = this.take();
    this.native.command(id, args);
    return this.track(id, map, recover);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private take(): number {
    const id = this.nextId;
    this.nextId = id === MAX_ID ? 1 : id + 1;
    return id;
  }

  private track<T>(id: number, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.add({ id, resolve: resolve as (v: unknown) => void, reject, map, recover });
    });
  }

  /** A batch native code refused as a whole (a bug, not a Redis error): fail its calls. */
  private failBatch(ops: unknown[], error: unknown): void {
    const failure = fromNative(error);
    for (const id of batchIds(ops)) {
      const entry = this.pending.take(id);
      if (entry === undefined) continue;
      entry.reject(failure);
    }
  }

  private settle([ids, failed, payloads]: [Uint32Array, Uint8Array, unknown[]]): void {
    for (let i = 0; i < ids.length; i++) {
      const entry = this.pending.take(ids[i]);
      if (entry === undefined) continue;
      try {
        if (failed[i] === 0) {
          const reply = payloads[i];
          entry.resolve(entry.map ? entry.map(reply) : reply);
        } else {
          const [code, message] = payloads[i] as [string, string];
          const error = new RedisLayerError(code, message);
          if (entry.recover) entry.resolve(entry.recover(error));
          else entry.reject(error);
        }
      } catch (error) {
        entry.reject(fromNative(error));
      }
    }
  }
}
