import type { NativeClient as NativeClientHandle, NativeOptions } from '../binding';
import { RedisLayerError, fromNative } from './errors';
import { log } from './logger';
import { PendingTable } from './pending';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('../binding') = require('../binding.js');

export type { NativeOptions };
export const registerScript: (source: string) => number = binding.registerScript;
export const describeTarget: (options: NativeOptions) => string = binding.describeTarget;

const MAX_ID = 0xffffffff;

// Record kinds of `NativeClient.submitBatch` (src/client.rs `Kind`).
const GET = 0;
const SET = 1;
const COMMAND = 2;
const PIPELINE = 3;
const SCRIPT = 4;
const JSON_ARRAY = 5;

/**
 * Calls sent together at most. Many callers resumed by one batch of replies would
 * otherwise all queue up before the first is sent, and Redis would sit idle while this
 * thread runs them, then this thread while Redis answers: slices let the two overlap
 * (measured: +35% checkLimit, +70% getSession at 64 callers on 2 cores; 8 was worse,
 * 32 no better).
 */
const SLICE = 16;

/**
 * The native socket's operations, queued in call order and handed to native code
 * once per microtask turn (or every SLICE calls) as one flat array: one crossing for
 * many commands instead of one each. Operations that are not commands on the socket's
 * lane (connect, scanDelete, close) first send what is queued, so nothing overtakes.
 */
export class NativeQueue {
  private ops: unknown[] = [];
  private scheduled = false;
  private queued = 0;
  private readonly flushNow = () => this.flush();

  /** @internal */
  constructor(
    private readonly client: NativeClientHandle,
    private readonly onFlushError: (ops: unknown[], error: unknown) => void,
  ) {}

  get isConnected(): boolean {
    return this.client.isConnected;
  }

  get(id: number, key: string): void {
    this.ops.push(GET, id, key);
    this.schedule();
  }

  set(id: number, key: string, value: string, ttlSeconds?: number | null): void {
    this.ops.push(SET, id, key, value, ttlSeconds ?? undefined);
    this.schedule();
  }

  command(id: number, args: string[]): void {
    this.ops.push(COMMAND, id, args);
    this.schedule();
  }

  /** An MGET answered as `[arrayText, [index, raw, ...]]` (src/json_array.rs). */
  jsonArray(id: number, args: string[]): void {
    this.ops.push(JSON_ARRAY, id, args);
    this.schedule();
  }

  pipeline(id: number, commands: string[][], atomic: boolean): void {
    this.ops.push(PIPELINE, id, commands, atomic);
    this.schedule();
  }

  script(id: number, handle: number, keys: string[], args: string[]): void {
    this.ops.push(SCRIPT, id, handle, keys, args);
    this.schedule();
  }

  connect(id: number): void {
    this.flush();
    this.client.connect(id);
  }

  scanDelete(id: number, pattern: string, count: number): void {
    this.flush();
    this.client.scanDelete(id, pattern, count);
  }

  panicForTesting(id: number, inTask: boolean): void {
    this.flush();
    this.client.panicForTesting(id, inTask);
  }

  close(): void {
    this.flush();
    this.client.close();
  }

  /** Sends everything queued now. */
  flush(): void {
    this.scheduled = false;
    this.queued = 0;
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    try {
      this.client.submitBatch(ops);
    } catch (error) {
      this.onFlushError(ops, error);
    }
  }

  private schedule(): void {
    if (++this.queued >= SLICE) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.flushNow);
  }
}

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

const FIELDS = [1, 3, 1, 2, 3, 1];

function batchIds(ops: unknown[]): number[] {
  const ids: number[] = [];
  for (let i = 0; i < ops.length; i += 2 + (FIELDS[ops[i] as number] ?? ops.length)) ids.push(ops[i + 1] as number);
  return ids;
}
