/**
 * What a broker publishes in one microtask turn, sent together as one pipeline on the publishing
 * socket. On a single server a batch goes at once while fewer than MAX_BATCHES_IN_FLIGHT are
 * unanswered: the socket's lane writes in call order, so order holds without waiting. A cluster runs
 * separate requests concurrently, so there each slot's messages go as one batch (one pipelined write,
 * in order, to the slot's node) and the next turn's wait for this turn's.
 */
import type { RedisConnection } from './connection';
import { inPlaceErrors } from './dispatcher';
import { fromNative } from './errors';

/**
 * Batches on the wire at once on a single server. More would not wait for each other at all, but
 * turn a burst of publishers into many small pipelines; past this, a turn's messages wait and
 * leave together with the next answer.
 */
const MAX_BATCHES_IN_FLIGHT = 4;

/** A message waiting in an Outbox: rejected with the whole batch when its pipeline fails. */
export interface Outgoing {
  reject(error: Error): void;
}

/** The commands that publish a batch, and how to settle its messages from their replies (errors in place). */
export interface PublishBatch {
  commands: string[][];
  settle(replies: unknown[]): void;
}

export class Outbox<T extends Outgoing> {
  private items: T[] = [];
  private scheduled = false;
  private waiting = false;
  /** Batches sent on a single server and not yet answered. */
  private inFlight = 0;
  private readonly flushNow = () => this.flush();

  /** `build` makes a batch's pipeline; `slotOf` is a message's hash slot, which batches keep to on a cluster. */
  constructor(
    private readonly connection: RedisConnection,
    private readonly build: (batch: T[]) => PublishBatch,
    private readonly slotOf: (item: T) => number,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.waiting || this.items.length === 0) return;
    if (!this.connection.isCluster()) {
      if (this.inFlight >= MAX_BATCHES_IN_FLIGHT) return;
      const batch = this.items;
      this.items = [];
      this.inFlight++;
      void this.send(batch).then(() => {
        this.inFlight--;
        this.flush();
      });
      return;
    }
    const batch = this.items;
    this.items = [];
    const bySlot = new Map<number, T[]>();
    for (const item of batch) {
      const slot = this.slotOf(item);
      const group = bySlot.get(slot);
      if (group === undefined) bySlot.set(slot, [item]);
      else group.push(item);
    }
    this.waiting = true;
    void Promise.all([...bySlot.values()].map((group) => this.send(group))).then(() => {
      this.waiting = false;
      this.flush();
    });
  }

  /** Publishes one batch as one pipeline on the publishing socket; resolves (never rejects) once its messages are settled. */
  private send(batch: T[]): Promise<void> {
    let built: PublishBatch;
    let published: Promise<unknown[]>;
    try {
      built = this.build(batch);
      published = this.connection.dispatcher('publisher').pipeline(built.commands, false, inPlaceErrors);
    } catch (error) {
      for (const item of batch) item.reject(fromNative(error));
      return Promise.resolve();
    }
    return published.then(
      (replies) => built.settle(replies),
      (error: Error) => {
        for (const item of batch) item.reject(error);
      },
    );
  }
}
