import { performance } from 'node:perf_hooks';
import type { NativeOptions } from '../../binding';
import type { RedisLayerError } from './errors';
import { fromNative } from './errors';
import { log } from './logger';
import { binding } from './native';
import { Calls, type Columns } from './pending';
import { batchIds, NativeQueue } from './queue';
import {
  type CommandEvent,
  commandChannel,
  connectionChannel,
  currentOperation,
  type ServerTarget,
  sanitized,
  serverTarget,
  tracingCommands,
} from './telemetry';

/** Commands that change no key: their arguments are not reported to `changes`. */
const READS = new Set(['GET', 'MGET', 'PTTL', 'TTL', 'EXISTS', 'STRLEN', 'TYPE', 'SCAN', 'PING']);

/** A command argument as native code reads it: text (sent as UTF-8) or bytes. */
export type WireArgument = string | Uint8Array;
/**
 * One command socket. Every operation takes an id and is queued (see NativeQueue); the
 * native side answers in batches (one wake-up of this thread for many results) and
 * `Calls` turns each reply into its caller's value. Each method takes the same optional
 * `map` (reply → result) and `recover` (Redis error → result, for fail-soft callers).
 */
export class Dispatcher extends Calls {
  private readonly native: NativeQueue;
  private readonly role: string;
  private readonly server: ServerTarget;
  /** Traced calls whose batch has not gone to native code yet. */
  private readonly unsent: CommandEvent[] = [];
  /** Traced calls in flight by id, until native code reports their phases. */
  private readonly timed = new Map<number, CommandEvent>();
  /**
   * @internal Told, as each call is queued, of every key it may change (a command's arguments,
   * a script's keys; null: any key), so the local cache tier forgets them before the write can land.
   */
  changes: ((key: WireArgument | null) => void) | undefined;

  constructor(options: NativeOptions, role: string) {
    super();
    this.role = role;
    this.server = serverTarget(options);
    const client = new binding.NativeClient(
      options,
      (batch) => this.complete(batch),
      ([level, message, kind]) => {
        log(level as 'info', message, { role });
        if (kind !== undefined && connectionChannel.hasSubscribers) connectionChannel.publish({ kind, role, message });
      },
    );
    this.native = new NativeQueue(client, (ops, error) => this.failBatch(ops, error));
  }

  get isConnected(): boolean {
    return this.native.isConnected;
  }

  /** `GET key`. */
  get<T>(key: string, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T> {
    const id = this.take();
    this.native.get(id, key);
    const result = this.track(id, map, recover);
    return tracingCommands() ? this.traced(id, 'GET', 'GET ?', 1, result) : result;
  }

  /** `SET key value [EX ttlSeconds]`. */
  set<T>(
    key: string,
    value: string,
    ttlSeconds: number | undefined,
    map?: (reply: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    const id = this.take();
    if (this.changes !== undefined) this.changes(key);
    this.native.set(id, key, value, ttlSeconds);
    const result = this.track(id, map, recover);
    if (!tracingCommands()) return result;
    return this.traced(id, 'SET', ttlSeconds === undefined ? 'SET ? ?' : 'SET ? ? EX ?', 1, result);
  }

  /** Any command as `[name, ...args]`; an argument may be bytes (a Buffer). */
  command<T>(
    args: readonly WireArgument[],
    map?: (reply: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    const id = this.take();
    if (this.changes !== undefined) this.changed(args);
    this.native.command(id, args);
    const result = this.track(id, map, recover);
    return tracingCommands() ? this.traced(id, String(args[0]).toUpperCase(), sanitized(args), 1, result) : result;
  }

  /**
   * Several commands in one round trip (`atomic`: MULTI/EXEC). Replies come in call order; a
   * failed command's reply is its error in place, as `{ code, message }` (see inPlaceErrors).
   */
  pipeline<T>(
    commands: ReadonlyArray<readonly WireArgument[]>,
    atomic: boolean,
    map?: (replies: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    const id = this.take();
    if (this.changes !== undefined) for (const command of commands) this.changed(command);
    this.native.pipeline(id, commands, atomic);
    const result = this.track(id, map, recover);
    if (!tracingCommands()) return result;
    const names = commands.map((command) => String(command[0]).toUpperCase()).join(' ');
    return this.traced(id, atomic ? 'MULTI' : 'PIPELINE', names, commands.length, result);
  }

  /** A script registered with `registerScript`. */
  script<T>(
    handle: number,
    keys: string[],
    args: string[],
    map?: (reply: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    return this.openScript(handle, keys, args, map, recover).result;
  }

  /**
   * `script`, also returning the call's id: later calls may add keys and args to it with
   * `extendScript` while nothing else has been queued after it and it has not been sent.
   */
  openScript<T>(
    handle: number,
    keys: string[],
    args: string[],
    map?: (reply: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): { id: number; result: Promise<T> } {
    const id = this.take();
    if (this.changes !== undefined) for (const key of keys) this.changes(key);
    this.native.script(id, handle, keys, args);
    const result = this.track(id, map, recover);
    return { id, result: tracingCommands() ? this.traced(id, 'EVALSHA', 'EVALSHA ?', 1, result) : result };
  }

  /** Adds keys and args to the script call `id` from `openScript`; false once something was queued after it or it was sent. */
  extendScript(id: number, keys: readonly string[], args: readonly string[]): boolean {
    const extended = this.native.extendScript(id, keys, args);
    if (extended && this.changes !== undefined) for (const key of keys) this.changes(key);
    return extended;
  }

  /** An MGET whose reply is `[arrayText, [index, raw, ...]]`: the values that are JSON spliced into one array text. */
  jsonArray<T>(
    args: string[],
    map?: (reply: [string, unknown[]]) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    const id = this.take();
    this.native.jsonArray(id, args);
    const result = this.track(id, map, recover);
    return tracingCommands() ? this.traced(id, 'MGET', sanitized(['MGET', ...args]), 1, result) : result;
  }

  /** Deletes the keys matching `pattern` (SCAN + UNLINK, `count` per step); the reply is how many. */
  scanDelete<T>(
    pattern: string,
    count: number,
    map?: (reply: number) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    if (this.changes === undefined)
      return this.submit((id) => this.native.scanDelete(id, pattern, count), map, recover);
    // Which keys it deletes is known only natively: every key is reported, before and after.
    this.changes(null);
    const forget = this.changes;
    return this.submit((id) => this.native.scanDelete(id, pattern, count), map, recover).finally(() => forget(null));
  }

  /** One page of a key scan, every master in turn on a cluster: `[nextCursor, keys]`, over at cursor `'0'`. */
  scanPage(
    cursor: string,
    pattern: string | undefined,
    count: number,
    type: string | undefined,
  ): Promise<[string, string[]]> {
    return this.submit((id) => this.native.scanPage(id, cursor, pattern, count, type));
  }

  /** Opens the socket; rejects (naming the cause) within the connect timeout. */
  connect(): Promise<void> {
    return this.submit((id) => this.native.connect(id));
  }

  /** @internal Panics in native code on purpose (in the operation's task, or at once), for the test suite. */
  panicForTesting(inTask: boolean): Promise<unknown> {
    return this.submit((id) => this.native.panicForTesting(id, inTask));
  }

  /** Sends what is queued, then ends the socket; calls in flight still settle. */
  close(): void {
    this.native.close();
  }

  /** Reports the arguments of a command that may change keys (every argument: reporting a non-key is harmless). */
  private changed(args: readonly WireArgument[]): void {
    if (READS.has(String(args[0]).toUpperCase())) return;
    for (let i = 1; i < args.length; i++) (this.changes as (key: WireArgument) => void)(args[i] as WireArgument);
  }

  /** Publishes call `id`'s `result` on the command channel, the start now, in the caller's context. */
  private traced<T>(id: number, operation: string, query: string, batchSize: number, result: Promise<T>): Promise<T> {
    const event: CommandEvent = {
      operation,
      query,
      batchSize,
      role: this.role,
      server: this.server,
      calledAt: performance.now(),
      parent: currentOperation(),
    };
    if (this.unsent.length === 0) this.native.onFlush = () => this.sent();
    this.unsent.push(event);
    this.timed.set(id, event);
    return commandChannel.tracePromise(() => result, event);
  }

  /** Stamps the traced calls of the batch that just went to native code. */
  private sent(): void {
    const now = performance.now();
    for (const event of this.unsent) event.sentAt = now;
    this.unsent.length = 0;
    this.native.onFlush = undefined;
  }

  /** Settles a batch of results, first handing traced calls their native phases. */
  private complete(batch: Columns): void {
    if (this.timed.size > 0) {
      const [ids, , , phases] = batch;
      for (let i = 0; i < ids.length; i++) {
        const event = this.timed.get(ids[i] as number);
        if (event === undefined) continue;
        this.timed.delete(ids[i] as number);
        if (phases !== undefined && !Number.isNaN(phases[2 * i])) {
          event.nativeMs = phases[2 * i];
          event.networkMs = phases[2 * i + 1];
        }
      }
    }
    this.settle(batch);
  }

  /** A batch native code refused as a whole (a bug, not a Redis error): fail its calls. */
  private failBatch(ops: unknown[], error: unknown): void {
    const failure = fromNative(error);
    for (const id of batchIds(ops)) {
      this.timed.delete(id);
      this.refuse(id, failure);
    }
  }
}

/** A pipeline's replies with each failed command's `{ code, message }` turned into an Error, in place. */
export function inPlaceErrors(replies: unknown[]): unknown[] {
  return replies.map((reply) => (isErrorReply(reply) ? fromNative(reply) : reply));
}

/** A pipeline's replies, or its first failed command's error, thrown. */
export function allOrError(replies: unknown[]): unknown[] {
  for (const reply of replies) if (isErrorReply(reply)) throw fromNative(reply);
  return replies;
}

/** A failed command inside a pipeline reply: the only plain object a reply can be. */
const isErrorReply = (reply: unknown): boolean => reply !== null && typeof reply === 'object' && !Array.isArray(reply);
