/**
 * The local cache tier (CacheService option `local`) kept honest by CLIENT TRACKING, against
 * real redis-servers this file starts:
 * - across processes: a writer and three readers judged against the writer's acknowledged
 *   history (steady, the tracking sockets killed, the server restarted), with the invalidation
 *   delay measured (fixtures/local-cache-history.js);
 * - in one process, with another connection or redis-cli as the other client: invalidation by
 *   every kind of write, TTLs, a read in flight overtaken by a write, tracking lost, this
 *   process's own writes, frozen shared values, the bounds and SIEVE, the user and post caches.
 * A TCP proxy between the tier's connection and Redis holds replies, invalidations or new
 * sockets where a test needs an interleaving forced. The cluster is in local-cache-topologies.test.ts.
 */
import net from 'node:net';
import {
  CacheService,
  defaultLogger,
  type LocalCacheStats,
  PostCacheService,
  RedisConnection,
  setLogger,
  UserCacheService,
} from '..';
import { recordingLogger, sleep, startRedis, type TestServer, uniquePrefix, waitUntil } from './helpers/redis';
// The cross-process harness (plain JavaScript, shared with local-cache-topologies.test.ts).
import * as history from './fixtures/local-cache-history';
import type { HistoryRun, Reset } from './fixtures/local-cache-history';
import { checkRun, served, trackingClientIds } from './helpers/local-cache';

const READERS = 3;
const summaries: string[] = [];
const check = (name: string, run: HistoryRun, resets: Reset[] = []) =>
  checkRun(name, run, { summaries, minWrites: 500, resets });
const trackingClients = (server: TestServer) => trackingClientIds(server.cli('CLIENT', 'LIST'));

describe('across processes: every read judged against the acknowledged writes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
    if (summaries.length > 0) console.log(`local tier, invalidation delay:\n${summaries.join('\n')}`);
  });

  it('a writer and three readers: no read older than the last acknowledged write beyond the invalidation delay', async () => {
    const run = await history.runHistory({ target: { REDIS_URL: server.url }, readers: READERS, runMs: 4_000 });
    check('steady', run);
    // Redis's invalidations are what kept the readers fresh: each reader had entries removed by them.
    for (const reader of run.readers) expect(reader.stats.invalidations).toBeGreaterThan(100);
  }, 90_000);

  it('the same with every tracking socket killed (CLIENT KILL) mid-run: flushed, then tracking and hits again', async () => {
    let killed: string[] = [];
    let back = 0;
    const run = await history.runHistory({
      target: { REDIS_URL: server.url },
      readers: READERS,
      disturb: async () => {
        killed = trackingClients(server);
        expect(killed).toHaveLength(READERS);
        for (const id of killed) server.cli('CLIENT', 'KILL', 'ID', id);
        await waitUntil(
          () => {
            const now = trackingClients(server);
            return now.length === READERS && now.every((id) => !killed.includes(id));
          },
          'every reader to track keys again',
          10_000,
        );
        back = history.now();
      },
    });
    check('tracking sockets killed', run);
    const { from } = run.disturbed as { from: number };
    for (const reader of run.readers) {
      // The loss flushed the tier; once tracking was back it answered from memory again.
      expect(reader.stats.flushes).toBeGreaterThan(history.statsAt(reader, from).flushes);
      expect(reader.stats.hits).toBeGreaterThan(history.statsAt(reader, back + 100).hits);
    }
  }, 90_000);

  it('the same through a redis-server restart: nothing from memory while it is away, no value from before it after', async () => {
    const resets: Reset[] = [];
    const outage = { issued: 0, lost: 0, restarting: 0, restarted: 0 };
    const run = await history.runHistory({
      target: { REDIS_URL: server.url },
      readers: READERS,
      disturb: async (control) => {
        // No write is in flight at the kill, so the history knows which writes the restart wiped.
        const afterVersion = await control.pauseWriter();
        const issued = history.now();
        await server.kill();
        const acked = history.now();
        resets.push({ afterVersion, issued, acked });
        control.resumeWriter();
        await sleep(800);
        outage.issued = issued;
        outage.lost = acked;
        outage.restarting = history.now();
        await server.restart();
        outage.restarted = history.now();
      },
    });
    check('server restarted', run, resets);
    for (const reader of run.readers) {
      const down = history.statsAt(reader, outage.lost + 150);
      const before = history.statsAt(reader, outage.restarting);
      expect(down.sampled).toBeGreaterThan(outage.lost);
      // While Redis was away (the loss noticed) the tier answered nothing from memory.
      expect(before.hits).toBe(down.hits);
      expect(down.flushes).toBeGreaterThan(history.statsAt(reader, outage.issued).flushes);
      // And after the restart it did again.
      expect(reader.stats.hits).toBeGreaterThan(history.statsAt(reader, outage.restarted + 500).hits);
    }
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
// One process.

/**
 * A TCP proxy in front of Redis, to force interleavings: it can hold what Redis sends on the
 * command sockets (replies), on the tracking socket (invalidations), and hold new sockets
 * unconnected. The tracking socket is the one that sent CLIENT TRACKING.
 */
class TcpProxy {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket; tracking: boolean; held: Buffer[] }>();
  private waiting: Array<() => void> = [];
  private holdingNew = false;
  holdReplies = false;
  holdInvalidations = false;

  constructor(private readonly port: number) {}

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `redis://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** What has been held of the replies, as text. */
  heldReplies(): string {
    let text = '';
    for (const pair of this.pairs) if (!pair.tracking) text += Buffer.concat(pair.held).toString('latin1');
    return text;
  }

  /** The local port of the proxy's socket to Redis that carries the tracking (CLIENT LIST's addr). */
  trackingAddr(): string[] {
    return [...this.pairs].filter((pair) => pair.tracking).map((pair) => `127.0.0.1:${pair.upstream.localPort}`);
  }

  holdNewSockets(): void {
    this.holdingNew = true;
  }

  /** Sends everything held, connects the sockets that waited, and holds nothing more. */
  release(): void {
    this.holdReplies = false;
    this.holdInvalidations = false;
    this.holdingNew = false;
    for (const pair of this.pairs) for (const chunk of pair.held.splice(0)) pair.client.write(chunk);
    for (const open of this.waiting.splice(0)) open();
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.waiting = [];
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.pause();
    client.on('error', () => client.destroy());
    const open = () => {
      if (client.destroyed) return;
      const upstream = net.connect(this.port, '127.0.0.1');
      const pair = { client, upstream, tracking: false, held: [] as Buffer[] };
      this.pairs.add(pair);
      client.on('data', (chunk: Buffer) => {
        if (chunk.includes('TRACKING')) pair.tracking = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (pair.tracking ? this.holdInvalidations : this.holdReplies) pair.held.push(chunk);
        else client.write(chunk);
      });
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      upstream.on('error', end);
      upstream.on('close', end);
      client.on('close', end);
      client.resume();
    };
    if (this.holdingNew) this.waiting.push(open);
    else open();
  }
}

const log = recordingLogger();
let server: TestServer;
/** The connection the tiers under test use, straight to Redis. */
let near: RedisConnection;
/** Another client: a connection without a tier, as another process would write. */
let far: RedisConnection;
let remote: CacheService;

beforeAll(async () => {
  setLogger(log.logger);
  server = await startRedis();
  near = new RedisConnection({ url: server.url, commandTimeoutMs: 2000 });
  far = new RedisConnection({ url: server.url, commandTimeoutMs: 2000 });
  await Promise.all([near.connect(), far.connect()]);
  remote = new CacheService(far);
});

afterAll(async () => {
  await near?.close();
  await far?.close();
  await server?.stop();
  setLogger(defaultLogger);
});

type Stats = LocalCacheStats;
const stats = (cache: { localStats(): Stats | null }): Stats => cache.localStats() as Stats;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Reads `key` until a read is answered from memory; returns that value. */
function fromMemory<T>(cache: CacheService, key: string, timeoutMs?: number): Promise<T | null | undefined> {
  return served(() => cache.get<T>(key), cache, key, timeoutMs);
}

/** Reads `key` until it reads `expected`; resolves with how long that took. */
async function until(cache: CacheService, key: string, expected: unknown, what: string): Promise<number> {
  const started = history.now();
  await waitUntil(async () => same(await cache.get(key), expected), what, 2_000);
  return history.now() - started;
}

describe('invalidation by other clients', () => {
  let tier: CacheService;
  beforeAll(() => {
    tier = new CacheService(near, { local: {} });
  });

  it('is off unless asked for: localStats() is null', () => {
    expect(new CacheService(near).localStats()).toBeNull();
    expect(new UserCacheService(near).localStats()).toBeNull();
  });

  it('a SET elsewhere replaces the copy once Redis says so, and the new value is kept in turn', async () => {
    const key = `${uniquePrefix('set')}k`;
    await remote.set(key, { v: 1 });
    expect(await fromMemory(tier, key)).toEqual({ v: 1 });
    const before = stats(tier);
    await remote.set(key, { v: 2 });
    await until(tier, key, { v: 2 }, 'the remote SET to be seen');
    expect(stats(tier).invalidations).toBeGreaterThan(before.invalidations);
    expect(await fromMemory(tier, key)).toEqual({ v: 2 });
  });

  it('a DEL elsewhere removes the copy, and the missing key is not answered from memory', async () => {
    const key = `${uniquePrefix('del')}k`;
    await remote.set(key, { v: 1 });
    expect(await fromMemory(tier, key)).toEqual({ v: 1 });
    await far.getClient().sendCommand(['DEL', key]);
    await until(tier, key, null, 'the remote DEL to be seen');
    const hits = stats(tier).hits;
    expect(await tier.get(key)).toBeNull();
    expect(await tier.get(key)).toBeNull();
    expect(stats(tier).hits).toBe(hits);
  });

  it('an EXPIRE elsewhere: the value is served until the key expires in Redis, and never after', async () => {
    const key = `${uniquePrefix('expire')}k`;
    await remote.set(key, { v: 1 });
    expect(await fromMemory(tier, key)).toEqual({ v: 1 });
    await far.getClient().sendCommand(['PEXPIRE', key, '400']);
    const acked = history.now();
    const reads: Array<{ started: number; value: unknown }> = [];
    const hits = stats(tier).hits;
    for (;;) {
      const started = history.now();
      const value = await tier.get(key);
      reads.push({ started, value });
      if (value === null) break;
      if (started > acked + 3_000) throw new Error('the key never expired');
      await sleep(5);
    }
    // Still served (from memory too) before the expiry, then gone: nothing served past it (a few ms for Redis' clock).
    expect(reads.filter((read) => read.value !== null).length).toBeGreaterThan(10);
    expect(stats(tier).hits).toBeGreaterThan(hits);
    expect(reads.filter((read) => read.value !== null && read.started > acked + 405)).toEqual([]);
    // And the key was not reported gone before it expired.
    expect(reads.at(-1)?.started).toBeGreaterThan(acked + 300);
  });

  it('FLUSHDB elsewhere empties the tier', async () => {
    const keys = [`${uniquePrefix('flush')}a`, `${uniquePrefix('flush')}b`];
    for (const key of keys) {
      await remote.set(key, { key });
      expect(await fromMemory(tier, key)).toEqual({ key });
    }
    const flushes = stats(tier).flushes;
    server.cli('FLUSHDB');
    await waitUntil(() => stats(tier).flushes > flushes, 'the FLUSHDB to reach the tier', 2_000);
    expect(stats(tier).entries).toBe(0);
    for (const key of keys) expect(await tier.get(key)).toBeNull();
  });

  it('any other writing command elsewhere too: INCR, MSET, RENAME, COPY, SET KEEPTTL, a script, GETDEL, UNLINK', async () => {
    const p = uniquePrefix('writes');
    const key = `${p}k`;
    const client = far.getClient();
    const writes: Array<[string, string[], unknown]> = [
      ['INCR', ['INCR', key], 6],
      ['MSET', ['MSET', key, '{"by":"mset"}', `${p}other`, '1'], { by: 'mset' }],
      ['RENAME', ['RENAME', `${p}src`, key], { by: 'rename' }],
      ['COPY', ['COPY', `${p}src2`, key, 'REPLACE'], { by: 'copy' }],
      ['SET KEEPTTL', ['SET', key, '{"by":"keepttl"}', 'KEEPTTL'], { by: 'keepttl' }],
      ['EVAL', ['EVAL', "redis.call('SET', KEYS[1], ARGV[1])", '1', key, '{"by":"script"}'], { by: 'script' }],
      ['GETDEL', ['GETDEL', key], null],
    ];
    await client.sendCommand(['SET', key, '5']);
    for (const [name, command, expected] of writes) {
      if (name === 'RENAME') await client.sendCommand(['SET', `${p}src`, '{"by":"rename"}']);
      if (name === 'COPY') await client.sendCommand(['SET', `${p}src2`, '{"by":"copy"}']);
      if (expected !== null) await fromMemory(tier, key);
      else {
        await client.sendCommand(['SET', key, '{"by":"before getdel"}']);
        await until(tier, key, { by: 'before getdel' }, 'the value before GETDEL');
        await fromMemory(tier, key);
      }
      await client.sendCommand(command);
      await until(tier, key, expected, `the remote ${name} to be seen`);
    }
    await client.sendCommand(['SET', key, '{"by":"before unlink"}']);
    await until(tier, key, { by: 'before unlink' }, 'the value before UNLINK');
    await fromMemory(tier, key);
    await client.sendCommand(['UNLINK', key]);
    await until(tier, key, null, 'the remote UNLINK to be seen');
  });

  it('a key evicted by Redis (maxmemory) is no longer served', async () => {
    const small = await startRedis({ extraArgs: ['--maxmemory', '3mb', '--maxmemory-policy', 'allkeys-random'] });
    const reading = new RedisConnection({ url: small.url });
    const writing = new RedisConnection({ url: small.url });
    try {
      await Promise.all([reading.connect(), writing.connect()]);
      const cache = new CacheService(reading, { local: {} });
      const key = `${uniquePrefix('evicted')}k`;
      await writing.getClient().sendCommand(['SET', key, '{"v":1}']);
      expect(await fromMemory(cache, key)).toEqual({ v: 1 });
      const fill = "for i = 1, 50 do redis.call('SET', ARGV[1] .. i, string.rep('x', 10000)) end";
      for (let round = 0; small.cli('EXISTS', key) === '1'; round++) {
        if (round > 200) throw new Error('the key was never evicted');
        await writing.getClient().sendCommand(['EVAL', fill, '0', `fill:${round}:`]);
      }
      expect(Number(/evicted_keys:(\d+)/.exec(small.cli('INFO', 'stats'))?.[1])).toBeGreaterThan(0);
      await until(cache, key, null, 'the evicted key to be a miss');
    } finally {
      await reading.close();
      await writing.close();
      await small.stop();
    }
  });
});

describe('TTLs', () => {
  it('a key set with a 1 s TTL is not served from memory once it expired in Redis (active expiry off)', async () => {
    const tier = new CacheService(near, { local: {} });
    const key = `${uniquePrefix('ttl')}k`;
    // With active expiry off Redis sends no invalidation at the expiry: only the PTTL the tier
    // read with the value can end the copy.
    server.cli('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    try {
      await far.getClient().sendCommand(['SET', key, '{"v":1}', 'PX', '1000']);
      const acked = history.now();
      expect(await fromMemory(tier, key)).toEqual({ v: 1 });
      const hits = stats(tier).hits;
      const reads: Array<{ started: number; value: unknown }> = [];
      while (history.now() < acked + 1_300) {
        const started = history.now();
        reads.push({ started, value: await tier.get(key) });
        await sleep(2);
      }
      expect(stats(tier).hits - hits).toBeGreaterThan(50);
      // Every read begun after the expiry (and a few ms for Redis's millisecond clock) read null.
      expect(reads.filter((read) => read.started > acked + 1_005 && read.value !== null)).toEqual([]);
      expect(reads.filter((read) => read.started < acked + 900).every((read) => same(read.value, { v: 1 }))).toBe(true);
    } finally {
      server.cli('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
    }
  });

  it('ttlMs bounds a copy of a key without TTL', async () => {
    const tier = new CacheService(near, { local: { ttlMs: 300 } });
    const key = `${uniquePrefix('ttlms')}k`;
    await remote.set(key, { v: 1 });
    expect(await fromMemory(tier, key)).toEqual({ v: 1 });
    const loaded = history.now();
    await sleep(350);
    const misses = stats(tier).misses;
    expect(await tier.get(key)).toEqual({ v: 1 });
    expect(stats(tier).misses).toBe(misses + 1);
    expect(history.now() - loaded).toBeGreaterThan(300);
  });
});

describe('interleavings forced through a proxy', () => {
  let proxy: TcpProxy;
  let proxied: RedisConnection;
  let tier: CacheService;
  beforeEach(async () => {
    proxy = new TcpProxy(server.port);
    proxied = new RedisConnection({ url: await proxy.listen(), commandTimeoutMs: 5000 });
    await proxied.connect();
    tier = new CacheService(proxied, { local: {} });
  });
  afterEach(async () => {
    proxy.release();
    await proxied.close();
    await proxy.close();
  });

  it('a read whose reply was on its way when another client wrote the key answers its caller but is not kept', async () => {
    const p = uniquePrefix('inflight');
    const [key, probe] = [`${p}k`, `${p}probe`];
    await remote.set(probe, { probe: 1 });
    await fromMemory(tier, probe);
    await remote.set(key, { v: 'old' });
    // Redis answers the read; the answer is held before it reaches the tier.
    proxy.holdReplies = true;
    const reading = tier.get(key);
    await waitUntil(() => proxy.heldReplies().includes('"old"'), 'the read to be answered by Redis', 2_000);
    // Then the key changes, and its invalidation (and the probe's, behind it) reaches the tier.
    const invalidations = stats(tier).invalidations;
    await remote.set(key, { v: 'new' });
    await remote.set(probe, { probe: 2 });
    await waitUntil(() => stats(tier).invalidations > invalidations, 'the invalidations to arrive', 2_000);
    proxy.release();
    expect(await reading).toEqual({ v: 'old' });
    // The overtaken value was not kept: the next read goes to Redis and gets the new one.
    const misses = stats(tier).misses;
    expect(await tier.get(key)).toEqual({ v: 'new' });
    expect(stats(tier).misses).toBe(misses + 1);
    expect(await fromMemory(tier, key)).toEqual({ v: 'new' });
  });

  it('the same when this process writes the key behind the read', async () => {
    const key = `${uniquePrefix('inflight-own')}k`;
    const plain = new CacheService(proxied);
    await remote.set(key, { v: 'old' });
    await remote.set(`${key}:warm`, 1);
    await fromMemory(tier, `${key}:warm`);
    proxy.holdReplies = true;
    const reading = tier.get(key);
    await waitUntil(() => proxy.heldReplies().includes('"old"'), 'the read to be answered by Redis', 2_000);
    const writing = plain.set(key, { v: 'new' });
    proxy.release();
    expect(await reading).toEqual({ v: 'old' });
    expect(await writing).toBe(true);
    expect(await tier.get(key)).toEqual({ v: 'new' });
  });

  it('tracking lost: the tier empties, answers nothing from memory until tracking is back, then serves again', async () => {
    const key = `${uniquePrefix('lost')}k`;
    await remote.set(key, { v: 1 });
    expect(await fromMemory(tier, key)).toEqual({ v: 1 });
    const [addr] = proxy.trackingAddr();
    const line = server
      .cli('CLIENT', 'LIST')
      .split('\n')
      .find((l) => l.includes(` addr=${addr} `)) as string;
    expect(line).toMatch(/\bflags=\S*t\S*B|\bflags=\S*B\S*t/);
    const flushes = stats(tier).flushes;
    // The tracking socket is killed, and its reconnect is held back for a while.
    proxy.holdNewSockets();
    server.cli('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(line)?.[1] as string);
    await waitUntil(() => stats(tier).flushes > flushes, 'the tier to be flushed', 2_000);
    expect(stats(tier).entries).toBe(0);
    // A write nobody tells the tier about: it must read Redis, not its memory.
    await remote.set(key, { v: 2 });
    const hits = stats(tier).hits;
    const until = history.now() + 500;
    while (history.now() < until) {
      expect(await tier.get(key)).toEqual({ v: 2 });
      await sleep(10);
    }
    expect(stats(tier).hits).toBe(hits);
    expect(stats(tier).entries).toBe(0);
    proxy.release();
    expect(await fromMemory(tier, key, 15_000)).toEqual({ v: 2 });
    // Invalidations arrive on the new tracking socket.
    await remote.set(key, { v: 3 });
    await waitUntil(async () => same(await tier.get(key), { v: 3 }), 'the write after the reconnect', 2_000);
  });

  it('this process’s writes are seen by its next read at once, with no invalidation arriving meanwhile', async () => {
    const key = `${uniquePrefix('own')}k`;
    const plain = new CacheService(proxied);
    const users = new UserCacheService(proxied);
    await remote.set(key, { v: 0 });
    expect(await fromMemory(tier, key)).toEqual({ v: 0 });
    // Redis's invalidations are held: only the process's own bookkeeping can forget the copies.
    proxy.holdInvalidations = true;
    const reread = async (expected: unknown) => {
      expect(await tier.get(key)).toEqual(expected);
      expect(await fromMemory(tier, key)).toEqual(expected);
    };
    await tier.set(key, { v: 1 });
    await reread({ v: 1 });
    await plain.set(key, { v: 2 });
    await reread({ v: 2 });
    await tier.mset({ [key]: { v: 3 } });
    await reread({ v: 3 });
    await proxied.getClient().set(key, JSON.stringify({ v: 4 }));
    await reread({ v: 4 });
    // Not awaited: the read queued behind the write sees it.
    const writing = tier.set(key, { v: 5 });
    const reading = tier.get(key);
    expect(await reading).toEqual({ v: 5 });
    expect(await writing).toBe(true);
    await reread({ v: 5 });
    await tier.del(key);
    expect(await tier.get(key)).toBeNull();
    await plain.set(key, { v: 6 });
    await reread({ v: 6 });
    await proxied.getClient().sendCommand(['DEL', key]);
    expect(await tier.get(key)).toBeNull();
    // Another service's writes on the same connection: the user cache's, a script (invalidateUser) included.
    const userTier = new UserCacheService(proxied, { local: {} });
    const id = `${key}-u`;
    await users.setUser({ id, name: 'a' });
    expect(await served(() => userTier.getUser(id), userTier, 'the user')).toEqual({ id, name: 'a' });
    await users.setUser({ id, name: 'b' });
    expect(await userTier.getUser(id)).toEqual({ id, name: 'b' });
    expect(await served(() => userTier.getUser(id), userTier, 'the user')).toEqual({ id, name: 'b' });
    await users.invalidateUser(id);
    expect(await userTier.getUser(id)).toBeNull();
  });
});

describe('values', () => {
  it('are deep-frozen and shared: a mutation throws and no other caller sees it (get, mget, getOrSet)', async () => {
    const tier = new CacheService(near, { local: {} });
    const key = `${uniquePrefix('frozen')}k`;
    const original = { name: 'Ada', tags: ['a'], nested: { deep: { n: 1 } } };
    await remote.set(key, original);
    await fromMemory(tier, key);
    type V = typeof original;
    const first = (await tier.get<V>(key)) as V;
    const second = (await tier.get<V>(key)) as V;
    expect(second).toBe(first);
    expect([first, first.tags, first.nested, first.nested.deep].every((o) => Object.isFrozen(o))).toBe(true);
    expect(() => {
      first.name = 'Eve';
    }).toThrow(TypeError);
    expect(() => first.tags.push('b')).toThrow(TypeError);
    expect(() => {
      first.nested.deep.n = 2;
    }).toThrow(TypeError);
    expect(() => {
      delete (first as Partial<V>).name;
    }).toThrow(TypeError);
    expect(await tier.get(key)).toEqual(original);
    const [fromMget] = await tier.mget<V>([key]);
    expect(Object.isFrozen(fromMget?.nested.deep)).toBe(true);
    expect(fromMget).toEqual(original);
    const fromGetOrSet = (await tier.getOrSet<V>(key, () => ({ ...original, name: 'loaded' }))) as V;
    expect(fromGetOrSet).toEqual(original);
    expect(() => fromGetOrSet.tags.push('c')).toThrow(TypeError);
    // A caller wanting its own copy gets one by copying; the cache is unchanged.
    const copy = structuredClone(first);
    copy.tags.push('mine');
    expect(await tier.get(key)).toEqual(original);
  });
});

describe('bounds', () => {
  /** `count` keys holding values of exactly `size` characters of JSON text. */
  async function keysOfSize(name: string, count: number, size: number): Promise<string[]> {
    const p = uniquePrefix(name);
    const keys = Array.from({ length: count }, (_, i) => `${p}${String(i).padStart(4, '0')}`);
    const text = JSON.stringify({ s: 'x'.repeat(size - 8) });
    expect(text.length).toBe(size);
    await far.getClient().sendCommand(['MSET', ...keys.flatMap((key) => [key, text])]);
    return keys;
  }

  it('maxEntries holds: the oldest unread entries go', async () => {
    const tier = new CacheService(near, { local: { maxEntries: 10 } });
    const keys = await keysOfSize('entries', 40, 50);
    await fromMemory(tier, keys[0] as string);
    for (const key of keys) {
      await tier.get(key);
      expect(stats(tier).entries).toBeLessThanOrEqual(10);
    }
    expect(stats(tier).entries).toBe(10);
    expect(stats(tier).evictions).toBe(30);
    // The newest ones are what it kept.
    const hits = stats(tier).hits;
    for (const key of keys.slice(-9)) await tier.get(key);
    expect(stats(tier).hits).toBe(hits + 9);
  });

  it('maxBytes holds, counting the stored JSON text and the key', async () => {
    const keys = await keysOfSize('bytes', 30, 200);
    const size = 200 + (keys[0] as string).length;
    const tier = new CacheService(near, { local: { maxBytes: size * 7 + size / 2 } });
    await fromMemory(tier, keys[0] as string);
    expect(stats(tier).bytes).toBe(size);
    for (const key of keys) {
      await tier.get(key);
      expect(stats(tier).bytes).toBeLessThanOrEqual(size * 7 + size / 2);
    }
    expect(stats(tier)).toMatchObject({ entries: 7, bytes: size * 7 });
  });

  it('a value larger than maxBytes is answered but not kept', async () => {
    const [key] = await keysOfSize('huge', 1, 5_000);
    const tier = new CacheService(near, { local: { maxBytes: 4_000 } });
    const warm = `${uniquePrefix('huge-warm')}k`;
    await remote.set(warm, 1);
    await fromMemory(tier, warm);
    const misses = stats(tier).misses;
    for (let i = 0; i < 3; i++) expect(await tier.get(key as string)).toEqual({ s: 'x'.repeat(4_992) });
    expect(stats(tier)).toMatchObject({ entries: 1, misses: misses + 3 });
  });

  it('keys being read survive a scan of cold keys larger than maxEntries (SIEVE)', async () => {
    const hot = await keysOfSize('hot', 5, 30);
    const cold = await keysOfSize('cold', 100, 30);
    const tier = new CacheService(near, { local: { maxEntries: 10 } });
    for (const key of hot) await fromMemory(tier, key);
    const before = stats(tier);
    for (let i = 0; i < cold.length; i++) {
      await tier.get(cold[i] as string);
      if (i % 2 === 0) for (const key of hot) await tier.get(key);
    }
    // Every cold key was a miss and kept for a while; every read of a hot key during the scan was a hit.
    const after = stats(tier);
    expect(after.misses - before.misses).toBe(cold.length);
    expect(after.hits - before.hits).toBe(hot.length * (cold.length / 2));
    expect(after.evictions - before.evictions).toBe(cold.length - (10 - hot.length));
    expect(after.entries).toBe(10);
    for (const key of hot) await tier.get(key);
    expect(stats(tier).hits - after.hits).toBe(hot.length);
  });
});

describe('user and post caches', () => {
  it('take the same options: repeated reads come from memory, and another client’s write invalidates them', async () => {
    const users = new UserCacheService(near, { local: { maxEntries: 100 } });
    const posts = new PostCacheService(near, { local: { maxEntries: 100 } });
    const otherUsers = new UserCacheService(far);
    const otherPosts = new PostCacheService(far);
    const id = uniquePrefix('entity').replaceAll(':', '-');
    await otherUsers.setUser({ id, name: 'Ada' });
    await otherPosts.setPost({ id, text: 'hello' });
    await waitUntil(
      async () => {
        const before = [stats(users).hits, stats(posts).hits];
        await users.getUser(id);
        await posts.getPost(id);
        return stats(users).hits > (before[0] as number) && stats(posts).hits > (before[1] as number);
      },
      'user and post reads answered from memory',
      5_000,
    );
    expect(await users.getUser(id)).toEqual({ id, name: 'Ada' });
    expect(Object.isFrozen(await posts.getPost(id))).toBe(true);
    await otherUsers.setUser({ id, name: 'Eve' });
    await otherPosts.setPost({ id, text: 'edited' });
    await waitUntil(
      async () =>
        same(await users.getUser(id), { id, name: 'Eve' }) && same(await posts.getPost(id), { id, text: 'edited' }),
      'the other client’s writes to be seen',
      2_000,
    );
    await otherUsers.invalidateUser(id);
    await waitUntil(async () => (await users.getUser(id)) === null, 'the invalidated user to be gone', 2_000);
  });
});
