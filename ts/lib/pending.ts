import { RedisLayerError, fromNative, knownCode } from './errors';

/** A call in flight: how to settle its promise. */
export interface Pending {
  id: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  map?: (reply: any) => unknown;
  recover?: (error: RedisLayerError) => unknown;
}

/**
 * Calls in flight by id: a slot array indexed by the id's low bits, cleared on take.
 * Not a `Map`: a churning Map rehashes, and the backing stores it leaves behind in the
 * old generation keep every call's promise and reply alive until the next full GC.
 * Ids are sequential, so live ones rarely share a slot; the older of two that do moves
 * to a small overflow map.
 */
export class PendingTable {
  private slots: Array<Pending | undefined> = new Array<Pending | undefined>(1024).fill(undefined);
  private mask = 1023;
  private readonly overflow = new Map<number, Pending>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(entry: Pending): void {
    if (this.count >= this.slots.length >> 1) this.grow();
    this.place(entry);
    this.count++;
  }

  take(id: number): Pending | undefined {
    const slot = id & this.mask;
    const entry = this.slots[slot];
    if (entry !== undefined && entry.id === id) {
      this.slots[slot] = undefined;
      this.count--;
      return entry;
    }
    const moved = this.overflow.get(id);
    if (moved !== undefined) {
      this.overflow.delete(id);
      this.count--;
    }
    return moved;
  }

  private place(entry: Pending): void {
    const slot = entry.id & this.mask;
    const occupant = this.slots[slot];
    if (occupant !== undefined) this.overflow.set(occupant.id, occupant);
    this.slots[slot] = entry;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Array<Pending | undefined>(old.length * 2).fill(undefined);
    this.mask = this.slots.length - 1;
    for (const entry of old) if (entry !== undefined) this.place(entry);
    // The old array may be in the old generation: leave it pointing at nothing.
    old.fill(undefined);
  }
}

/**
 * A batch of completions by column: each call's id, whether it failed, and its reply or `[code, message]`;
 * for a batch with timed calls, two numbers per call (see `CommandEvent.nativeMs` and `networkMs`).
 */
export type Columns = [ids: Uint32Array, failed: Uint8Array, payloads: unknown[], phases?: Float64Array];

const MAX_ID = 0xffffffff;

/**
 * The calls in flight on one native socket. A call takes an id, the native side answers
 * by id in batches (`settle`), and each promise settles with its reply turned into a value
 * here, in the caller's realm: `map` turns a reply into the result, `recover` turns a Redis
 * error into a result (fail-soft callers) or, when absent, the promise rejects.
 * @internal
 */
export class Calls {
  private readonly pending = new PendingTable();
  private nextId = 1;

  /** The next call's id. */
  take(): number {
    const id = this.nextId;
    this.nextId = id === MAX_ID ? 1 : id + 1;
    return id;
  }

  /** The promise of call `id`, settled by `settle` (or `refuse`). */
  track<T>(id: number, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.add({ id, resolve: resolve as (v: unknown) => void, reject, map, recover });
    });
  }

  /**
   * One call submitted at once rather than queued (operations that are not commands on the
   * socket's lane); native code may refuse it there (a closed socket), which rejects it.
   */
  submit<T>(
    submit: (id: number) => void,
    map?: (reply: any) => T,
    recover?: (error: RedisLayerError) => T,
  ): Promise<T> {
    const id = this.take();
    const done = this.track(id, map, recover);
    try {
      submit(id);
    } catch (error) {
      this.refuse(id, error);
    }
    return done;
  }

  /** Rejects call `id`, which native code refused before it started (a closed socket, a bug). */
  refuse(id: number, error: unknown): void {
    this.pending.take(id)?.reject(fromNative(error));
  }

  /** Settles one batch of completions. */
  settle([ids, failed, payloads]: Columns): void {
    for (let i = 0; i < ids.length; i++) {
      const entry = this.pending.take(ids[i]);
      if (entry === undefined) continue;
      try {
        if (failed[i] === 0) {
          const reply = payloads[i];
          entry.resolve(entry.map ? entry.map(reply) : reply);
        } else {
          const [code, message] = payloads[i] as [string, string];
          const error = new RedisLayerError(knownCode(code), message);
          if (entry.recover) entry.resolve(entry.recover(error));
          else entry.reject(error);
        }
      } catch (error) {
        entry.reject(fromNative(error));
      }
    }
  }
}
