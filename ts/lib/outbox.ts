/**
 * What a broker publishes in one microtask turn, sent together. On a single server a batch goes at
 * once, without waiting for the previous one: the publishing socket's lane writes in call order. A
 * cluster runs separate requests concurrently, so there each slot's items go as one batch (one
 * pipelined write, in order, to the slot's node) and the next turn's waits for this turn's.
 */
export class Outbox<T> {
  private items: T[] = [];
  private scheduled = false;
  private waiting = false;
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
    const batch = this.items;
    this.items = [];
    if (!this.onCluster()) {
      void this.send(batch);
      return;
    }
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
