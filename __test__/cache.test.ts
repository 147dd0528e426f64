import { CacheService, RedisConnection, setLogger, defaultLogger } from '..';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { recordingLogger, sleep, startRedis, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

const execFileAsync = promisify(execFile);

let server: TestServer;
let connection: RedisConnection;
let cache: CacheService;
const log = recordingLogger();
const p = uniquePrefix('cache');

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  cache = new CacheService(connection);
  setLogger(log.logger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await connection.close();
  await server.stop();
});

describe('CacheService get/set', () => {
  it('round-trips JSON values and stores JSON.stringify text under the caller key', async () => {
    const value = { id: 'u1', name: 'Ada', tags: ['a', 'b'], nested: { n: 1.5, ok: true, none: null } };
    expect(await cache.set(`${p}user`, value)).toBe(true);
    expect(server.cli('GET', `${p}user`)).toBe(JSON.stringify(value));
    expect(await cache.get(`${p}user`)).toEqual(value);
  });

  it('serialises exactly like JSON.stringify: Dates as ISO strings, toJSON honoured, undefined fields dropped', async () => {
    const when = new Date('2024-05-06T07:08:09.010Z');
    const value = { when, custom: { toJSON: () => 'custom!' }, gone: undefined, list: [undefined, 1] };
    await cache.set(`${p}date`, value);
    expect(server.cli('GET', `${p}date`)).toBe(JSON.stringify(value));
    expect(await cache.get(`${p}date`)).toEqual({
      when: '2024-05-06T07:08:09.010Z',
      custom: 'custom!',
      list: [null, 1],
    });
  });

  it('reads values written by the old TypeScript layer and the other way round', async () => {
    server.cli('SET', `${p}old`, JSON.stringify({ from: 'seed', n: 1 }));
    expect(await cache.get<{ from: string }>(`${p}old`)).toEqual({ from: 'seed', n: 1 });
    await cache.set(`${p}new`, 'plain string');
    expect(JSON.parse(server.cli('GET', `${p}new`))).toBe('plain string');
  });

  it('returns null for a missing key', async () => {
    expect(await cache.get(`${p}missing`)).toBeNull();
  });

  it('sets a TTL when asked and none otherwise', async () => {
    await cache.set(`${p}ttl`, 1, 120);
    const ttl = Number(server.cli('TTL', `${p}ttl`));
    expect(ttl).toBeGreaterThan(110);
    expect(ttl).toBeLessThanOrEqual(120);
    await cache.set(`${p}nottl`, 1);
    expect(server.cli('TTL', `${p}nottl`)).toBe('-1');
  });

  it('treats a corrupt stored value as a miss and logs it without the value', async () => {
    server.cli('SET', `${p}corrupt`, '{not json SECRET-VALUE');
    log.lines.length = 0;
    expect(await cache.get(`${p}corrupt`)).toBeNull();
    expect(log.text()).toContain(`${p}corrupt`);
    expect(log.text()).not.toContain('SECRET-VALUE');
  });

  it('treats a key of the wrong type as a miss and logs it', async () => {
    server.cli('RPUSH', `${p}list`, 'x');
    log.lines.length = 0;
    expect(await cache.get(`${p}list`)).toBeNull();
    expect(log.lines.some((l) => l.level === 'error' && l.message.includes('Cache get error'))).toBe(true);
  });

  it('answers false and logs for values JSON cannot represent', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await cache.set(`${p}bad`, undefined)).toBe(false);
    expect(await cache.set(`${p}bad`, BigInt(1))).toBe(false);
    expect(await cache.set(`${p}bad`, cyclic)).toBe(false);
    expect(await cache.set(`${p}bad`, () => 1)).toBe(false);
    expect(server.cli('EXISTS', `${p}bad`)).toBe('0');
  });

  it('rejects a key that is not a string with a TypeError naming the argument', async () => {
    await expect(cache.get(42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(cache.get(42 as unknown as string)).rejects.toThrow(/key/);
    await expect(cache.set(null as unknown as string, 1)).rejects.toThrow(TypeError);
    await expect(cache.del({} as unknown as string)).rejects.toThrow(/key/);
    await expect(cache.mget('a' as unknown as string[])).rejects.toThrow(TypeError);
    await expect(cache.exists(undefined as unknown as string)).rejects.toThrow(TypeError);
  });

  it('rejects a negative or NaN TTL with a RangeError naming ttlSeconds', async () => {
    await expect(cache.set(`${p}neg`, 1, -5)).rejects.toThrow(/ttlSeconds/);
    await expect(cache.set(`${p}nan`, 1, NaN)).rejects.toThrow(RangeError);
  });
});

describe('CacheService key operations', () => {
  it('del, exists, expire and ttl give the seed results', async () => {
    await cache.set(`${p}k`, { a: 1 });
    expect(await cache.exists(`${p}k`)).toBe(true);
    expect(await cache.ttl(`${p}k`)).toBe(-1);
    expect(await cache.expire(`${p}k`, 50)).toBe(true);
    const ttl = await cache.ttl(`${p}k`);
    expect(ttl).toBeGreaterThan(40);
    expect(await cache.del(`${p}k`)).toBe(true);
    expect(await cache.del(`${p}k`)).toBe(false);
    expect(await cache.exists(`${p}k`)).toBe(false);
    expect(await cache.expire(`${p}k`, 50)).toBe(false);
    expect(await cache.ttl(`${p}k`)).toBe(-2);
  });

  it('mget returns values in order with null for misses and corrupt entries', async () => {
    await cache.set(`${p}m1`, { n: 1 });
    await cache.set(`${p}m2`, [2]);
    server.cli('SET', `${p}m3`, 'oops{');
    expect(await cache.mget([`${p}m1`, `${p}nope`, `${p}m2`, `${p}m3`])).toEqual([{ n: 1 }, null, [2], null]);
    expect(await cache.mget([])).toEqual([]);
  });

  it('mget keeps each value to its own key when stored texts are fragments that would join into valid JSON', async () => {
    const texts = ['[1', '2]', '3,4', ' "padded" ', '"\\ud800"', `${'{"deep":'.repeat(200)}1${'}'.repeat(200)}`, 'é"'];
    for (const [i, text] of texts.entries()) server.cli('SET', `${p}frag${i}`, text);
    const keys = texts.map((_, i) => `${p}frag${i}`);
    const expected = texts.map((text) => {
      try {
        return JSON.parse(text);
      } catch {
        return null;
      }
    });
    await cache.set(`${p}frag-ok`, { n: 1 });
    expect(await cache.mget([...keys, `${p}frag-ok`])).toEqual([...expected, { n: 1 }]);
  });

  it('mset with a TTL writes every key with its TTL in one MULTI/EXEC transaction', async () => {
    const before = commandCalls('exec');
    const pairs: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) pairs[`${p}ms${i}`] = { i };
    expect(await cache.mset(pairs, 300)).toBe(true);
    expect(commandCalls('exec')).toBe(before + 1);
    for (let i = 0; i < 50; i++) {
      expect(JSON.parse(server.cli('GET', `${p}ms${i}`))).toEqual({ i });
      expect(Number(server.cli('TTL', `${p}ms${i}`))).toBeGreaterThan(290);
    }
  });

  it('mset without a TTL leaves keys persistent', async () => {
    expect(await cache.mset({ [`${p}mp1`]: 1, [`${p}mp2`]: 'two' })).toBe(true);
    expect(await cache.mget([`${p}mp1`, `${p}mp2`])).toEqual([1, 'two']);
    expect(server.cli('TTL', `${p}mp1`)).toBe('-1');
  });

  it('flushPattern deletes matching keys with SCAN and UNLINK, never KEYS, and returns the count', async () => {
    const pairs: Record<string, number> = {};
    for (let i = 0; i < 2500; i++) pairs[`${p}flush:${i}`] = i;
    await cache.mset(pairs);
    await cache.set(`${p}keep`, 1);
    const keysBefore = commandCalls('keys');
    const scanBefore = commandCalls('scan');
    expect(await cache.flushPattern(`${p}flush:*`)).toBe(2500);
    expect(commandCalls('keys')).toBe(keysBefore);
    expect(commandCalls('scan')).toBeGreaterThan(scanBefore + 1);
    expect(commandCalls('unlink')).toBeGreaterThan(0);
    expect(await cache.exists(`${p}keep`)).toBe(true);
    expect(await cache.flushPattern(`${p}flush:*`)).toBe(0);
  });
});

describe('CacheService.getOrSet', () => {
  it('runs the loader once for concurrent misses and shares its value', async () => {
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 30));
      return { loaded: true };
    };
    const results = await Promise.all(Array.from({ length: 25 }, () => cache.getOrSet(`${p}gos`, loader, 60)));
    expect(calls).toBe(1);
    for (const result of results) expect(result).toEqual({ loaded: true });
    expect(JSON.parse(server.cli('GET', `${p}gos`))).toEqual({ loaded: true });
    expect(await cache.getOrSet(`${p}gos`, loader)).toEqual({ loaded: true });
    expect(calls).toBe(1);
  });

  it('answers a miss with what a hit returns: the JSON round trip of the loaded value', async () => {
    const joined = new Date('2024-01-02T03:04:05.000Z');
    const loader = async () => ({ id: 'u1', joined, skip: undefined, tags: [undefined, 'a'] });
    const miss = await cache.getOrSet(`${p}shape`, loader, 60);
    const hit = await cache.getOrSet(`${p}shape`, loader, 60);
    expect(miss).toEqual({ id: 'u1', joined: '2024-01-02T03:04:05.000Z', tags: [null, 'a'] });
    expect(hit).toEqual(miss);
    expect(miss?.joined).toBe(hit?.joined);
  });

  it('getOrSetWithInfo says whether the value came from Redis or from the loader', async () => {
    const loader = async () => ({ n: 1 });
    expect(await cache.getOrSetWithInfo(`${p}info`, loader, 60)).toEqual({ value: { n: 1 }, hit: false });
    expect(await cache.getOrSetWithInfo(`${p}info`, loader, 60)).toEqual({ value: { n: 1 }, hit: true });
  });

  it('treats null and undefined from the loader as "not found": null, not cached unless cacheNullSeconds', async () => {
    let calls = 0;
    const notFound = (answer: null | undefined) => async () => {
      calls++;
      return answer;
    };
    expect(await cache.getOrSet(`${p}none`, notFound(undefined), 60)).toBeNull();
    expect(await cache.getOrSet(`${p}none`, notFound(null), 60)).toBeNull();
    expect(calls).toBe(2);
    expect(server.cli('EXISTS', `${p}none`)).toBe('0');

    const options = { ttlSeconds: 60, cacheNullSeconds: 30 };
    expect(await cache.getOrSetWithInfo(`${p}neg`, notFound(null), options)).toEqual({ value: null, hit: false });
    expect(await cache.getOrSetWithInfo(`${p}neg`, notFound(null), options)).toEqual({ value: null, hit: true });
    expect(calls).toBe(3);
    expect(server.cli('GET', `${p}neg`)).toBe('null');
    const ttl = Number(server.cli('TTL', `${p}neg`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
    // The seed's get() still reads a cached "not found" as a miss.
    expect(await cache.get(`${p}neg`)).toBeNull();

    expect(await cache.getOrSet(`${p}found`, async () => ({ ok: true }), options)).toEqual({ ok: true });
    expect(Number(server.cli('TTL', `${p}found`))).toBeGreaterThan(30);
  });

  it('rejects options it cannot use, naming them', async () => {
    const loader = async () => 1;
    await expect(cache.getOrSet(`${p}bad`, loader, { cacheNullSeconds: -1 })).rejects.toThrow(
      new RangeError('options.cacheNullSeconds must be a positive finite number of seconds, got -1'),
    );
    await expect(cache.getOrSet(`${p}bad`, loader, { ttlSeconds: '5' as unknown as number })).rejects.toThrow(
      new TypeError('options.ttlSeconds must be a number of seconds, got string'),
    );
    await expect(cache.getOrSet(`${p}bad`, loader, 'x' as unknown as number)).rejects.toThrow(TypeError);
  });

  it('rejects every waiter when the loader fails and caches nothing', async () => {
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('database down');
    };
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => cache.getOrSet(`${p}gosfail`, loader)));
    expect(calls).toBe(1);
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason.message).toBe('database down');
    }
    expect(server.cli('EXISTS', `${p}gosfail`)).toBe('0');
  });
});

describe('CacheService fills and invalidations', () => {
  let other: RedisConnection;
  let elsewhere: CacheService;
  beforeAll(async () => {
    other = new RedisConnection({ url: server.url });
    await other.connect();
    elsewhere = new CacheService(other);
  });
  afterAll(() => other.close());

  // Plain keys, a key with a hash tag of its own, and one with a `}` but no usable tag.
  const variants = ['plain', 'order:{42}', 'a}b'];

  it.each(variants)('getOrSet stores nothing when the key is deleted while the loader runs (%s)', async (name) => {
    const key = `${p}race:${name}`;
    const loaded = await cache.getOrSet(
      key,
      async () => {
        const stale = { version: 1 };
        expect(await elsewhere.del(key)).toBe(false);
        return stale;
      },
      60,
    );
    expect(loaded).toEqual({ version: 1 });
    expect(server.cli('EXISTS', key)).toBe('0');
    expect(await cache.get(key)).toBeNull();
    // Nothing is left behind: the next load is stored as usual.
    expect(await cache.getOrSet(key, async () => ({ version: 2 }), 60)).toEqual({ version: 2 });
    expect(JSON.parse(server.cli('GET', key))).toEqual({ version: 2 });
    expect(Number(server.cli('TTL', key))).toBeGreaterThan(50);
  });

  it('a fresh value stored after the invalidation is not overwritten by the stale load', async () => {
    const key = `${p}race:fresh`;
    const stale = await cache.getOrSet(key, async () => {
      await elsewhere.del(key);
      expect(await elsewhere.getOrSet(key, async () => 'fresh')).toBe('fresh');
      return 'stale';
    });
    expect(stale).toBe('stale');
    expect(JSON.parse(server.cli('GET', key))).toBe('fresh');
    expect(await cache.get(key)).toBe('fresh');
  });

  it('an invalidation with no load in flight does not keep the next load from being stored', async () => {
    const key = `${p}race:idle`;
    await cache.set(key, 'old');
    expect(await cache.del(key)).toBe(true);
    expect(await cache.del(key)).toBe(false);
    expect(await cache.getOrSet(key, async () => 'reloaded', 60)).toBe('reloaded');
    expect(JSON.parse(server.cli('GET', key))).toBe('reloaded');
  });

  it('a value JSON cannot hold is returned, logged and not stored', async () => {
    const key = `${p}race:bigint`;
    log.lines.length = 0;
    expect(await cache.getOrSet(key, async () => BigInt(7))).toBe(BigInt(7));
    expect(server.cli('EXISTS', key)).toBe('0');
    expect(log.lines.some((l) => l.level === 'error' && l.message === 'Cache set error' && l.meta?.key === key)).toBe(
      true,
    );
  });
});

describe('CacheService.mset that fails part-way', () => {
  it('answers false and leaves no key holding the values when the write times out but commits later', async () => {
    const own = await startRedis();
    const c = new RedisConnection({ url: own.url, commandTimeoutMs: 300 });
    try {
      await c.connect();
      const svc = new CacheService(c);
      for (const ttl of [300, undefined]) {
        const keys = Array.from({ length: 20 }, (_, i) => `late:${ttl}:${i}`);
        own.cli('SET', keys[3], '"old"');
        // The server is busy for a second: the write times out here and is executed afterwards.
        const busy = execFileAsync('redis-cli', ['-p', String(own.port), 'DEBUG', 'SLEEP', '1']);
        await sleep(100);
        log.lines.length = 0;
        expect(await svc.mset(Object.fromEntries(keys.map((k, i) => [k, { i }])), ttl)).toBe(false);
        await busy;
        await sleep(100);
        expect(own.cli('EXISTS', ...keys)).toBe('0');
        expect(log.lines.some((l) => l.level === 'error' && l.message === 'Cache mset error')).toBe(true);
      }
    } finally {
      await c.close();
      await own.stop();
    }
  }, 20_000);
});

function commandCalls(name: string): number {
  const info = server.cli('INFO', 'commandstats');
  const match = info.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`));
  return match ? Number(match[1]) : 0;
}
