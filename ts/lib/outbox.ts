/**
 * What a broker publishes in one microtask turn, sent together. On a single server a batch goes at
 * once while fewer than MAX_BATCHES_IN_FLIGHT are unanswered: the publishing socket's lane writes in
 * call order, so order holds without waiting. A cluster runs separate requests concurrently, so there each slot's items go as one batch (one
 * pipelined write, in order, to the slot's node) and the next turn's waits for this turn's.
 */
/**
 * Batches on the wire at once on a single server. More would not wait for each other at all, but
 * turn a burst of publishers into many small pipelines; past this, a turn's messages wait and
 * leave together with the next answer.
 */
const MAX_BATCHES_IN_FLIGHT = 4;

export class Outbox<T> {
  private items: T[] = [];
  private scheduled = false;
  private waiting = false;
  /** Batches sent on a single server and not yet answered. */
  private inFlight = 0;
  private readonly flushNow = () => this.flush();

  /**
   * `send` publishes one batch and settles its items, resolving (never rejecting) once they are;
   * `slotOf` is an item's hash slot; `onCluster` says whether batches must keep to one slot.
   */
  constructor(
    private readonly send: (batch: T[]) => Promise<void>,
    private readonly slotOf: (item: T) => number,
    private readonly onCluster: () => boolean,
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
    if (!this.onCluster()) {
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
}
