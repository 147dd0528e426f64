import type { NativeClient as NativeClientHandle } from '../binding';

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

const FIELDS = [1, 3, 1, 2, 3, 1];

/** The ids of the records in a submitted batch. */
export function batchIds(ops: unknown[]): number[] {
  const ids: number[] = [];
  for (let i = 0; i < ops.length; i += 2 + (FIELDS[ops[i] as number] ?? ops.length)) ids.push(ops[i + 1] as number);
  return ids;
}
