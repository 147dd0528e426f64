import type { NativeClient as NativeClientHandle, NativeOptions } from '../binding';
import { RedisLayerError, fromNative } from './errors';
import { log } from './logger';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('../binding') = require('../binding.js');

export type { NativeOptions };
export const registerScript: (source: string) => number = binding.registerScript;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  map?: (reply: any) => unknown;
  recover?: (error: RedisLayerError) => unknown;
}

const MAX_ID = 0xffffffff;

/**
 * One native socket. Calls are queued by id; the native side answers in batches
 * (one wake-up of this thread for many results), and results are turned into
 * values here, in the caller's realm.
 */
export class Dispatcher {
  readonly native: NativeClientHandle;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(options: NativeOptions, role: string) {
    this.native = new binding.NativeClient(
      options,
      (batch) => this.settle(batch),
      ([level, message]) => log(level as 'info', message, { role }),
    );
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
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, map, recover });
      try {
        submit(id);
      } catch (error) {
        this.pending.delete(id);
        reject(fromNative(error));
      }
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private settle(batch: unknown[]): void {
    for (let i = 0; i < batch.length; i += 3) {
      const entry = this.pending.get(batch[i] as number);
      if (entry === undefined) continue;
      this.pending.delete(batch[i] as number);
      try {
        if (batch[i + 1] === true) {
          const reply = batch[i + 2];
          entry.resolve(entry.map ? entry.map(reply) : reply);
        } else {
          const [code, message] = batch[i + 2] as [string, string];
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
