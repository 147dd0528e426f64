import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sameSlotKey, slotOf, slotTagTable } from '../dist/lib/slot';
import { startRedis, type TestServer } from './helpers/redis';

// CLUSTER KEYSLOT answers only on a cluster-enabled server; a lone node with no slots is enough.
let server: TestServer;
const nodesFile = path.join(os.tmpdir(), `redis-layer-slot-${randomBytes(4).toString('hex')}.conf`);

beforeAll(async () => {
  server = await startRedis({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', nodesFile] });
});

afterAll(async () => {
  await server.stop();
  fs.rmSync(nodesFile, { force: true });
});

/** The server's CLUSTER KEYSLOT for each key, in one redis-cli run. */
function serverSlots(keys: string[]): number[] {
  const input = keys.map((key) => `CLUSTER KEYSLOT "${key.replace(/["\\]/g, '\\$&')}"\n`).join('');
  const out = execFileSync('redis-cli', ['-p', String(server.port)], { input, encoding: 'utf8', maxBuffer: 1 << 24 });
  return out.trim().split('\n').map(Number);
}

/** Ids an attacker can choose so that no usable `{…}` tag protects the seed key. */
const craftedIds = (count: number) =>
  Array.from({ length: count }, (_, i) => (i % 2 ? `${i}}x${(i * 7919).toString(36)}` : `{}${i}}`));

describe('slot tags', () => {
  it('has one brace-free tag per slot that Redis hashes to that slot', () => {
    const table = slotTagTable();
    expect(table).toHaveLength(16384);
    for (let slot = 0; slot < table.length; slot++) {
      expect(table[slot]).toMatch(/^[0-9a-z]{1,4}$/);
      expect(slotOf(table[slot])).toBe(slot);
    }
    expect(serverSlots([...table])).toEqual(table.map((_, slot) => slot));
  });

  it('keeps the tag each slot always had: the first base-36 numeral hashing to it', () => {
    const table = slotTagTable();
    // The straightforward search, for a spread of slots.
    for (const slot of [0, 1, 2, 777, 4096, 8191, 12_345, 16_383]) {
      let n = 0;
      while (slotOf(n.toString(36)) !== slot) n++;
      expect(table[slot]).toBe(n.toString(36));
    }
  });

  it('builds the table once: crafted ids holding `}` all reuse it', () => {
    const table = slotTagTable();
    const ids = craftedIds(20_000);
    const keys = ids.map((id) => sameSlotKey(`lock:${id}`, ':fence'));
    expect(slotTagTable()).toBe(table);
    for (let i = 0; i < ids.length; i++) {
      expect(keys[i]).toBe(`{${table[slotOf(`lock:${ids[i]}`)]}}lock:${ids[i]}:fence`);
    }
    // The server agrees that each companion key shares its seed key's slot.
    const sample = ids.filter((_, i) => i % 50 === 0);
    const seedSlots = serverSlots(sample.map((id) => `lock:${id}`));
    expect(serverSlots(sample.map((id) => sameSlotKey(`lock:${id}`, ':fence')))).toEqual(seedSlots);
  });
});
