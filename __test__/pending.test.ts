import { type Pending, PendingTable } from '../dist/lib/pending';

const entry = (id: number): Pending => ({ id, resolve: () => undefined, reject: () => undefined });

describe('PendingTable (calls in flight by id)', () => {
  it('finds every entry once, however many are in flight', () => {
    const table = new PendingTable();
    for (let id = 1; id <= 5000; id++) table.add(entry(id));
    expect(table.size).toBe(5000);
    for (let id = 5000; id >= 1; id--) expect(table.take(id)?.id).toBe(id);
    expect(table.size).toBe(0);
    expect(table.take(1)).toBeUndefined();
  });

  it('keeps a long call while thousands of later ids reuse its slot', () => {
    const table = new PendingTable();
    table.add(entry(7));
    let mismatches = 0;
    for (let id = 8; id < 20_000; id++) {
      table.add(entry(id));
      if (table.take(id)?.id !== id) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(table.size).toBe(1);
    expect(table.take(7)?.id).toBe(7);
    expect(table.take(7)).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('answers undefined for ids it never held, without disturbing the ones it holds', () => {
    const table = new PendingTable();
    table.add(entry(1));
    expect(table.take(1025)).toBeUndefined();
    expect(table.take(2)).toBeUndefined();
    expect(table.take(1)?.id).toBe(1);
  });

  it('wraps at the top of the id range', () => {
    const table = new PendingTable();
    table.add(entry(0xffffffff));
    table.add(entry(1));
    expect(table.take(0xffffffff)?.id).toBe(0xffffffff);
    expect(table.take(1)?.id).toBe(1);
  });
});
