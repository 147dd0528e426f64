/**
 * The local cache tier's options, its reach (user and post caches), its telemetry (the real
 * OpenTelemetry SDK and prom-client + promtool) and getOrSet's fallback while Redis is away.
 * Invalidation across processes is in local-cache.test.ts.
 */
import { execFileSync } from 'node:child_process';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import {
  CacheKeys,
  CacheService,
  dateSerializer,
  defaultLogger,
  PostCacheService,
  RedisConnection,
  setLogger,
  UserCacheService,
} from '..';
import { instrumentOpenTelemetry } from '../dist/telemetry/otel';
import { registerPrometheusMetrics } from '../dist/telemetry/prometheus';
import { served } from './helpers/local-cache';
import { recordingLogger, startRedis, type TestServer, uniquePrefix, waitUntil } from './helpers/redis';

const log = recordingLogger();
let server: TestServer;
let connection: RedisConnection;
let writer: RedisConnection;

beforeAll(async () => {
  setLogger(log.logger);
  server = await startRedis();
  connection = new RedisConnection({ url: server.url, connectTimeoutMs: 1000, commandTimeoutMs: 1000 });
  writer = new RedisConnection({ url: server.url });
  await Promise.all([connection.connect(), writer.connect()]);
});

afterAll(async () => {
  await connection.close();
  await writer.close();
  await server.stop();
  setLogger(defaultLogger);
});

describe('options', () => {
  it('rejects bad bounds with errors naming the option', () => {
    expect(() => new CacheService(connection, { local: 5 as never })).toThrow(TypeError);
    expect(() => new CacheService(connection, { local: 5 as never })).toThrow(/options\.local/);
    expect(() => new CacheService(connection, { local: { maxBytes: -1 } })).toThrow(RangeError);
    expect(() => new CacheService(connection, { local: { maxBytes: -1 } })).toThrow(/options\.local\.maxBytes/);
    expect(() => new CacheService(connection, { local: { maxEntries: 0 } })).toThrow(/options\.local\.maxEntries/);
    expect(() => new CacheService(connection, { local: { ttlMs: Number.NaN } })).toThrow(/options\.local\.ttlMs/);
  });

  it('is off unless asked for: no stats, and values stay the caller’s own', async () => {
    const cache = new CacheService(connection);
    const key = `${uniquePrefix('off')}k`;
    await cache.set(key, { n: 1 });
    const value = (await cache.get<{ n: number }>(key)) as { n: number };
    value.n = 2;
    expect(await cache.get(key)).toEqual({ n: 1 });
    expect(cache.localStats()).toBeNull();
  });

  it('ttlMs bounds an entry even when the key has no TTL in Redis', async () => {
    const cache = new CacheService(connection, { local: { ttlMs: 200 } });
    const key = `${uniquePrefix('ttl')}k`;
    await cache.set(key, 1);
    await served(() => cache.get(key), cache, 'a read', 20_000);
    const misses = cache.localStats()?.misses ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await cache.get(key)).toBe(1);
    expect(cache.localStats()?.misses).toBe(misses + 1);
  });
});

describe('invalidation', () => {
  let cache: CacheService;
  let remote: CacheService;
  beforeAll(() => {
    cache = new CacheService(connection, { local: {} });
    remote = new CacheService(writer);
  });
  const fresh = (key: string, value: unknown, what: string) =>
    waitUntil(async () => JSON.stringify(await cache.get(key)) === JSON.stringify(value), what, 5_000);

  it('a write, a DEL, an EXPIRE and FLUSHDB by another client remove the local copy', async () => {
    const key = `${uniquePrefix('remote')}k`;
    await remote.set(key, { v: 1 });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await remote.set(key, { v: 2 });
    await fresh(key, { v: 2 }, 'the remote SET');
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await remote.del(key);
    await fresh(key, null, 'the remote DEL');
    await remote.set(key, { v: 3 });
    await fresh(key, { v: 3 }, 'the key written again');
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await writer.getClient().sendCommand(['PEXPIRE', key, '1']);
    await fresh(key, null, 'the remote EXPIRE');
    await remote.set(key, { v: 4 });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    const flushes = cache.localStats()?.flushes ?? 0;
    server.cli('FLUSHDB');
    await waitUntil(() => (cache.localStats()?.flushes ?? 0) > flushes, 'the FLUSHDB notice');
    expect(await cache.get(key)).toBeNull();
  });

  it('an entry goes with its key’s TTL in Redis', async () => {
    const key = `${uniquePrefix('ttl')}k`;
    await remote.set(key, { v: 1 }, 1);
    await served(() => cache.get(key), cache, 'a read', 20_000);
    const [entry] = [await cache.get(key)];
    expect(entry).toEqual({ v: 1 });
    await waitUntil(async () => (await cache.get(key)) === null, 'the key to expire', 3_000);
    expect(server.cli('EXISTS', key)).toBe('0');
  });

  it('an eviction by Redis (maxmemory) removes the local copy', async () => {
    const small = await startRedis({ extraArgs: ['--maxmemory', '4mb', '--maxmemory-policy', 'allkeys-lru'] });
    const near = new RedisConnection({ url: small.url });
    await near.connect();
    try {
      const tier = new CacheService(near, { local: {} });
      const key = `${uniquePrefix('evicted')}k`;
      await tier.set(key, { v: 1 });
      await served(() => tier.get(key), tier, 'a read', 20_000);
      const filler = 'x'.repeat(10_000);
      for (let i = 0; small.cli('EXISTS', key) === '1'; i++) small.cli('SET', `fill:${i}`, filler);
      await waitUntil(async () => (await tier.get(key)) === null, 'the evicted key to be a miss', 5_000);
    } finally {
      await near.close();
      await small.stop();
    }
  });

  it('this process’s writes are seen by its next read, at once', async () => {
    const key = `${uniquePrefix('own')}k`;
    const same = new CacheService(connection);
    await cache.set(key, { v: 1 });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await same.set(key, { v: 2 });
    expect(await cache.get(key)).toEqual({ v: 2 });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await same.del(key);
    expect(await cache.get(key)).toBeNull();
    await cache.mset({ [key]: { v: 3 } });
    expect(await cache.get(key)).toEqual({ v: 3 });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await connection.getClient().set(key, JSON.stringify({ v: 4 }));
    expect(await cache.get(key)).toEqual({ v: 4 });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await same.flushPattern(`${key.slice(0, -1)}*`);
    expect(await cache.get(key)).toBeNull();
  });

  it('a read in flight when its key is written answers its caller but is not kept', async () => {
    const key = `${uniquePrefix('inflight')}k`;
    await remote.set(key, { v: 1 });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    await remote.set(key, { v: 2 });
    await fresh(key, { v: 2 }, 'the remote write');
    // Not in memory now: the next read goes to Redis, and a write is queued behind it.
    await remote.set(key, { v: 3 });
    await waitUntil(() => (cache.localStats()?.entries ?? 1) === 0, 'the entry to be invalidated');
    const misses = cache.localStats()?.misses ?? 0;
    const reading = cache.get(key);
    const writing = new CacheService(connection).set(key, { v: 4 });
    expect(await reading).toEqual({ v: 3 });
    await writing;
    expect(cache.localStats()?.misses).toBe(misses + 1);
    expect(await cache.get(key)).toEqual({ v: 4 });
  });
});

describe('tracking prefixes', () => {
  it('tracks only the connection’s trackingPrefixes, and keeps only keys under them', async () => {
    const prefix = uniquePrefix('tp');
    const narrow = new RedisConnection({ url: server.url, trackingPrefixes: [prefix] });
    await narrow.connect();
    try {
      const cache = new CacheService(narrow, { local: {} });
      const inside = `${prefix}k`;
      const outside = `${uniquePrefix('elsewhere')}k`;
      await writer.getClient().set(inside, JSON.stringify({ v: 1 }));
      await writer.getClient().set(outside, JSON.stringify({ v: 1 }));
      await served(() => cache.get(inside), cache, 'a read', 20_000);
      const tracking = server
        .cli('CLIENT', 'LIST')
        .split('\n')
        .filter((line) => /flags=\S*t/.test(line)).length;
      expect(tracking).toBeGreaterThan(0);
      const misses = cache.localStats()?.misses ?? 0;
      await cache.get(outside);
      expect(await cache.get(outside)).toEqual({ v: 1 });
      expect(cache.localStats()?.misses).toBe(misses + 2);
      await writer.getClient().set(inside, JSON.stringify({ v: 2 }));
      await waitUntil(async () => JSON.stringify(await cache.get(inside)) === '{"v":2}', 'the tracked write');
    } finally {
      await narrow.close();
    }
  });

  it('rejects prefixes Redis would refuse, naming the option', () => {
    expect(() => new RedisConnection({ trackingPrefixes: ['user:', 'user:profile:'] })).toThrow(RangeError);
    expect(() => new RedisConnection({ trackingPrefixes: ['user:', 'user:profile:'] })).toThrow(
      /options\.trackingPrefixes/,
    );
    expect(() => new RedisConnection({ trackingPrefixes: [''] })).toThrow(TypeError);
    expect(() => new RedisConnection({ trackingPrefixes: 'user:' as never })).toThrow(/options\.trackingPrefixes/);
  });
});

describe('values and bounds', () => {
  it('hands every caller the same frozen value: a mutation throws and changes no other read', async () => {
    const cache = new CacheService(connection, { local: {} });
    const key = `${uniquePrefix('frozen')}k`;
    await cache.set(key, { name: 'Ada', tags: ['a'] });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    const first = (await cache.get<{ name: string; tags: string[] }>(key)) as { name: string; tags: string[] };
    expect(() => {
      first.name = 'Eve';
    }).toThrow(TypeError);
    expect(() => first.tags.push('b')).toThrow(TypeError);
    expect(await cache.get(key)).toEqual({ name: 'Ada', tags: ['a'] });
  });

  it('with another serializer each caller gets its own copy', async () => {
    const cache = new CacheService(connection, { local: {}, serializer: dateSerializer });
    const key = `${uniquePrefix('dates')}k`;
    await cache.set(key, { at: new Date(0) });
    await served(() => cache.get(key), cache, 'a read', 20_000);
    const first = (await cache.get<{ at: Date }>(key)) as { at: Date };
    first.at.setFullYear(2000);
    expect(((await cache.get<{ at: Date }>(key)) as { at: Date }).at.getTime()).toBe(0);
  });

  it('keeps within maxEntries and maxBytes, and keeps keys being read while a scan of cold keys passes', async () => {
    const cache = new CacheService(connection, { local: { maxEntries: 50, maxBytes: 20_000 } });
    const prefix = uniquePrefix('bounds');
    const hot = Array.from({ length: 10 }, (_, i) => `${prefix}hot${i}`);
    const cold = Array.from({ length: 200 }, (_, i) => `${prefix}cold${i}`);
    const value = { pad: 'x'.repeat(100) };
    await cache.mset(Object.fromEntries([...hot, ...cold].map((key) => [key, value])));
    for (const key of hot) await served(() => cache.get(key), cache, 'a read', 20_000);
    for (const [i, key] of cold.entries()) {
      await cache.get(key);
      // The hot keys keep being read while the scan goes on.
      if (i % 5 === 0) await Promise.all(hot.map((h) => cache.get(h)));
      const stats = cache.localStats() as { entries: number; bytes: number };
      expect(stats.entries).toBeLessThanOrEqual(50);
      expect(stats.bytes).toBeLessThanOrEqual(20_000);
    }
    expect(cache.localStats()?.evictions).toBeGreaterThan(100);
    const hits = cache.localStats()?.hits ?? 0;
    await Promise.all(hot.map((h) => cache.get(h)));
    expect(cache.localStats()?.hits).toBe(hits + hot.length);

    const big = new CacheService(connection, { local: { maxBytes: 1_000 } });
    const bigKey = `${prefix}big`;
    await big.set(bigKey, { pad: 'y'.repeat(2_000) });
    await big.get(bigKey);
    await big.get(bigKey);
    expect(big.localStats()?.entries).toBe(0);
  });
});

describe('user and post caches', () => {
  it('take the option and answer repeated reads from memory, invalidated by their own writes', async () => {
    const users = new UserCacheService(connection, { local: { maxEntries: 100 } });
    const id = uniquePrefix('user');
    await users.setUser({ id, name: 'Ada' });
    await served(() => users.getUser(id), users, 'a read', 20_000);
    await users.setUser({ id, name: 'Grace' });
    expect(await users.getUser(id)).toEqual({ id, name: 'Grace' });
    await users.invalidateUser(id);
    expect(await users.getUser(id)).toBeNull();

    const posts = new PostCacheService(connection, { local: {} });
    const postId = uniquePrefix('post');
    await posts.setPost({ id: postId, title: 'hello' });
    await served(() => posts.getPost(postId), posts, 'a read', 20_000);
    expect(await posts.getPost(postId)).toEqual({ id: postId, title: 'hello' });
    expect(posts.localStats()?.entries).toBeGreaterThan(0);
  });
});

describe('telemetry', () => {
  it('reports the tier through prom-client (promtool-clean) and OpenTelemetry, and marks local hits', async () => {
    const registry = new Registry();
    const stopProm = registerPrometheusMetrics({ registry, prefix: 'app_' });
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const stopOtel = instrumentOpenTelemetry({ meterProvider });
    try {
      const cache = new CacheService(connection, { local: {} });
      const key = CacheKeys.user(uniquePrefix('tel'));
      await cache.set(key, { name: 'Ada' });
      await served(() => cache.get(key), cache, 'a read', 20_000);
      await writer.getClient().set(key, JSON.stringify({ name: 'Grace' }));
      await waitUntil(() => (cache.localStats()?.invalidations ?? 0) > 0, 'the invalidation');

      const text = await registry.metrics();
      expect(text).toMatch(/app_local_cache_hits_total [1-9]/);
      expect(text).toMatch(/app_local_cache_invalidations_total [1-9]/);
      expect(text).toMatch(/app_local_cache_misses_total [1-9]/);
      expect(text).toMatch(/app_local_cache_entries \d/);
      expect(text).toMatch(/app_local_cache_bytes \d/);
      expect(text).toMatch(/app_cache_requests_total\{operation="get",key_group="user",outcome="local-hit"\} [1-9]/);
      expect(text).not.toContain(key);
      expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');

      await reader.forceFlush();
      const metrics = exporter.getMetrics().flatMap((batch) => batch.scopeMetrics.flatMap((scope) => scope.metrics));
      const byName = new Map(metrics.map((metric) => [metric.descriptor.name, metric]));
      const hits = byName.get('redis_layer.local_cache.hits')?.dataPoints[0]?.value as number;
      expect(hits).toBeGreaterThan(0);
      expect(byName.get('redis_layer.local_cache.invalidations')?.dataPoints[0]?.value).toBeGreaterThan(0);
      expect(byName.get('redis_layer.local_cache.bytes')?.descriptor.unit).toBe('By');
    } finally {
      stopProm();
      stopOtel();
      await meterProvider.shutdown();
    }
  });
});

describe('getOrSet while Redis is away', () => {
  it('serves the last good value within its grace when the loader fails too, and recovers after', async () => {
    const cache = new CacheService(connection, { local: {} });
    const key = `${uniquePrefix('away')}k`;
    const options = { ttlSeconds: 60, graceSeconds: 60 };
    await cache.getOrSet(key, () => ({ v: 1 }), options);
    await served(() => cache.getOrSet(key, () => ({ v: 0 }), options), cache, 'a read', 20_000);
    const noGrace = `${uniquePrefix('away')}plain`;
    await cache.getOrSet(noGrace, () => ({ v: 1 }), 60);

    await server.kill();
    try {
      await waitUntil(() => !connection.isConnected, 'the connection to notice the server is gone');
      const failing = () => {
        throw new Error('database down too');
      };
      expect(await cache.getOrSetWithInfo(key, failing, options)).toEqual({ value: { v: 1 }, hit: true, stale: true });
      expect(log.text()).toContain('serving the last good value');
      // Without grace there is nothing to fall back on: the loader's failure is the answer.
      await expect(cache.getOrSet(noGrace, failing, 60)).rejects.toThrow('database down too');
      // A working loader still wins over the last good value.
      expect(await cache.getOrSetWithInfo(key, () => ({ v: 2 }), options)).toEqual({ value: { v: 2 }, hit: false });
    } finally {
      await server.restart();
    }
    await waitUntil(() => connection.isConnected, 'the reconnect');
    // Redis restarted empty: the tier serves nothing it held before the outage.
    await waitUntil(async () => (await cache.get(key)) === null, 'a read that reaches the restarted server');
  });
});
