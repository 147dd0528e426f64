import type { NativeClient as NativeClientHandle, OpKind } from '../../binding';
import type { WireArgument } from './dispatcher';
import { binding } from './native';

// Record kinds of `NativeClient.submitBatch` and their field counts, read once from the
// binding (src/records.rs `OpKind`). `OpKind` is a const enum to the type checker; this
// is the object the binding exports.
const Kind = (binding as unknown as { OpKind: Readonly<Record<keyof typeof OpKind, OpKind>> }).OpKind;
const GET = Kind.Get;
const SET = Kind.Set;
const COMMAND = Kind.Command;
const PIPELINE = Kind.Pipeline;
const SCRIPT = Kind.Script;
const JSON_ARRAY = Kind.JsonArray;

/** Fields after `[kind, id]` in a record, by kind. */
const FIELDS: number[] = [];
for (const kind of Object.values(Kind)) FIELDS[kind] = binding.opFields(kind);

/**
 * Calls sent together at most. Many callers resumed by one batch of replies would
 * otherwise all queue up before the first is sent, and Redis would sit idle while this
 * thread runs them, then this thread while Redis answers: slices let the two overlap.
 */
const SLICE = 16;

/**
 * The native socket's operations, queued in call order and handed to native code
 * once per microtask turn (or every SLICE calls) as one flat array of records
 * `[kind, id, ...fields]`: one crossing for many commands. Each kind has one method
 * here, which pushes exactly its fields. Operations that are not commands on the
 * socket's lane (connect, scanDelete, close) first send what is queued, so nothing
 * overtakes.
 */
export class NativeQueue {
  private ops: unknown[] = [];
  /**
   * The last record queued while it is a script not yet sent: `extendScript` may add to it.
   * `at` is the index of its keys in `ops`; they and its args are copied on the first addition,
   * so the caller's arrays are never changed.
   */
  private openScript: { id: number; at: number; copied: boolean } | undefined;
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
    this.added();
  }

  set(id: number, key: string, value: string, ttlSeconds?: number | null): void {
    this.ops.push(SET, id, key, value, ttlSeconds ?? undefined);
    this.added();
  }

  command(id: number, args: readonly WireArgument[]): void {
    this.ops.push(COMMAND, id, args);
    this.added();
  }

  /** An MGET answered as `[arrayText, [index, raw, ...]]` (src/json_array.rs). */
  jsonArray(id: number, args: string[]): void {
    this.ops.push(JSON_ARRAY, id, args);
    this.added();
  }

  pipeline(id: number, commands: ReadonlyArray<readonly WireArgument[]>, atomic: boolean): void {
    this.ops.push(PIPELINE, id, commands, atomic);
    this.added();
  }

  script(id: number, handle: number, keys: string[], args: string[]): void {
    this.ops.push(SCRIPT, id, handle, keys, args);
    this.openScript = { id, at: this.ops.length - 2, copied: false };
    this.schedule();
  }

  /**
   * Adds keys and args to script call `id` while it is the last record queued and not yet
   * sent, so a caller can batch work into it without overtaking anything queued after it;
   * false when that is no longer so.
   */
  extendScript(id: number, keys: readonly string[], args: readonly string[]): boolean {
    const open = this.openScript;
    if (open === undefined || open.id !== id) return false;
    if (!open.copied) {
      this.ops[open.at] = [...(this.ops[open.at] as string[])];
      this.ops[open.at + 1] = [...(this.ops[open.at + 1] as string[])];
      open.copied = true;
    }
    (this.ops[open.at] as string[]).push(...keys);
    (this.ops[open.at + 1] as string[]).push(...args);
    return true;
  }

  /** After a record other than a script: nothing may join the script before it any more. */
  private added(): void {
    this.openScript = undefined;
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

  scanPage(id: number, cursor: string, pattern: string | undefined, count: number, type: string | undefined): void {
    this.flush();
    this.client.scanPage(id, cursor, pattern, count, type);
  }

  panicForTesting(id: number, inTask: boolean): void {
    this.flush();
    this.client.panicForTesting(id, inTask);
  }

  close(): void {
    this.flush();
    this.client.close();
  }

  /**
   * Called after each batch went to native code. Set while the batch holds traced calls, and
   * then native code also times the batch's calls (see `Columns`).
   */
  onFlush: (() => void) | undefined;

  /** Sends everything queued now. */
  flush(): void {
    this.scheduled = false;
    this.queued = 0;
    this.openScript = undefined;
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    try {
      this.client.submitBatch(ops, this.onFlush !== undefined);
    } catch (error) {
      this.onFlushError(ops, error);
    }
    this.onFlush?.();
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

/** The ids of the records in a submitted batch. */
export function batchIds(ops: unknown[]): number[] {
  const ids: number[] = [];
  for (let i = 0; i < ops.length; i += 2 + (FIELDS[ops[i] as number] ?? ops.length)) ids.push(ops[i + 1] as number);
  return ids;
}
