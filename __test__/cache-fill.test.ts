/**
 * getOrSet grown up: single flight across processes (a lease in Redis, waiters, takeover when the
 * holder dies or fails), stale-while-revalidate within a grace period, soft and hard loader timeouts.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { CacheService, RedisConnection, defaultLogger, setLogger } from '..';
import { recordingLogger, sleep, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

const log = recordingLogger();
let server: TestServer;
let first: RedisConnection;
let second: RedisConnection;
let cacheA: CacheService;
let cacheB: CacheService;

beforeAll(async () => {
  setLogger(log.logger);
  server = await testRedis();
  first = new RedisConnection({ url: server.url });
  second = new RedisConnection({ url: server.url });
  await Promise.all([first.connect(), second.connect()]);
  // Two services on two connections: each has its own in-process single flight, as two processes would.
  cacheA = new CacheService(first);
  cacheB = new CacheService(second);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await Promise.all([first.close(), second.close()]);
  await server.stop();
});

type WorkerMessage = {
  ready?: true;
  loading?: true;
  results?: Array<{ value: { by: number }; hit: boolean }>;
  failed?: string;
};

function worker(env: Record<string, string>): {
  child: ChildProcess;
  next: (what: keyof WorkerMessage) => Promise<WorkerMessage>;
} {
  const child = fork(path.join(__dirname, 'fixtures', 'fill-worker.js'), [], {
    env: { ...process.env, REDIS_URL: server.url, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: WorkerMessage[] = [];
  const waiting: Array<() => void> = [];
  child.on('message', (message: WorkerMessage) => {
    inbox.push(message);
    for (const wake of waiting.splice(0)) wake();
  });
  const next = async (what: keyof WorkerMessage): Promise<WorkerMessage> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const index = inbox.findIndex((message) => what in message || 'failed' in message);
      if (index >= 0) {
        const [message] = inbox.splice(index, 1) as [WorkerMessage];
        if (message.failed) throw new Error(message.failed);
        return message;
      }
      if (Date.now() > deadline) throw new Error(`worker sent no ${what}`);
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { child, next };
}

describe('getOrSet: single flight across processes', () => {
  it('4 processes × 100 concurrent misses on one key run the loader once, and all get its value', async () => {
    const key = uniquePrefix('stampede');
    const counter = `${key}:loads`;
    const workers = Array.from({ length: 4 }, () =>
      worker({ KEY: key, COUNTER: counter, LOAD_MS: '300', CALLS: '100', LEASE_MS: '5000' }),
    );
    try {
      await Promise.all(workers.map((w) => w.next('ready')));
      for (const w of workers) w.child.send('go');
      const all = (await Promise.all(workers.map((w) => w.next('results')))).flatMap((m) => m.results ?? []);
      expect(all).toHaveLength(400);
      expect(server.cli('GET', counter)).toBe('1');
      const loaders = new Set(all.map((result) => result.value.by));
      expect(loaders.size).toBe(1);
      // The loading process's calls got the load (hit false); the other processes' calls read what it stored.
      expect(all.filter((result) => !result.hit)).toHaveLength(100);
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
    }
  });

  it('a process killed -9 while loading: another process loads within the lease time', async () => {
    const key = uniquePrefix('killed');
    const counter = `${key}:loads`;
    const holder = worker({ KEY: key, COUNTER: counter, LOAD_MS: 'hang', CALLS: '1', LEASE_MS: '1000' });
    try {
      await holder.next('ready');
      holder.child.send('go');
      await holder.next('loading');
      const started = Date.now();
      const waiting = cacheB.getOrSetWithInfo(key, async () => ({ by: 'survivor' }), { ttlSeconds: 60, leaseMs: 1000 });
      await sleep(200);
      holder.child.kill('SIGKILL');
      const result = await waiting;
      expect(result).toEqual({ value: { by: 'survivor' }, hit: false });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(server.cli('GET', counter)).toBe('1');
    } finally {
      holder.child.kill('SIGKILL');
    }
  });

  it('waits for a fill that is running elsewhere instead of loading, and renews the lease of a slow load', async () => {
    const key = uniquePrefix('wait');
    let loadsB = 0;
    const slow = cacheA.getOrSetWithInfo(
      key,
      async () => {
        await sleep(900);
        return { v: 'from A' };
      },
      { ttlSeconds: 60, leaseMs: 300 },
    );
    await sleep(50);
    const waiter = await cacheB.getOrSetWithInfo(
      key,
      async () => {
        loadsB++;
        return { v: 'from B' };
      },
      { ttlSeconds: 60, leaseMs: 300 },
    );
    expect(await slow).toEqual({ value: { v: 'from A' }, hit: false });
    expect(waiter).toEqual({ value: { v: 'from A' }, hit: true });
    expect(loadsB).toBe(0);
  });

  it('a failing holder ends its lease: the waiter takes over at once, and a failing loader never hangs a waiter', async () => {
    const key = uniquePrefix('fails');
    const failing = cacheA.getOrSet(
      key,
      async () => {
        await sleep(200);
        throw new Error('database down');
      },
      { ttlSeconds: 60, leaseMs: 10_000 },
    );
    await sleep(50);
    const started = Date.now();
    const waiter = cacheB.getOrSet(key, async () => ({ v: 'B loaded' }), { ttlSeconds: 60, leaseMs: 10_000 });
    await expect(failing).rejects.toThrow('database down');
    expect(await waiter).toEqual({ v: 'B loaded' });
    expect(Date.now() - started).toBeLessThan(2_000);

    const key2 = uniquePrefix('fails-both');
    const both = [
      cacheA.getOrSet(key2, async () => Promise.reject(new Error('A failed')), { leaseMs: 10_000 }),
      cacheB.getOrSet(key2, async () => Promise.reject(new Error('B failed')), { leaseMs: 10_000 }),
    ];
    const settled = await Promise.allSettled(both);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });

  it('a waiter past maxWaitMs loads by itself without storing', async () => {
    const key = uniquePrefix('maxwait');
    const holding = cacheA.getOrSet(
      key,
      async () => {
        await sleep(1_000);
        return { v: 'A' };
      },
      { ttlSeconds: 60 },
    );
    await sleep(50);
    const started = Date.now();
    expect(await cacheB.getOrSetWithInfo(key, async () => ({ v: 'B' }), { ttlSeconds: 60, maxWaitMs: 200 })).toEqual({
      value: { v: 'B' },
      hit: false,
    });
    expect(Date.now() - started).toBeLessThan(800);
    expect(await holding).toEqual({ v: 'A' });
    expect(JSON.parse(server.cli('GET', key))).toEqual({ v: 'A' });
  });
});

describe('getOrSet: stale-while-revalidate and timeouts', () => {
  const version = (n: number) => async () => ({ n });

  it('within graceSeconds a stale value is answered at once while one refresh runs, then the fresh one', async () => {
    const key = uniquePrefix('swr');
    const options = { ttlSeconds: 1, graceSeconds: 30 };
    await cacheA.getOrSet(key, version(1), options);
    expect(Number(server.cli('TTL', key))).toBeGreaterThan(29);
    await sleep(1_100);
    let refreshes = 0;
    const slowV2 = async () => {
      refreshes++;
      await sleep(300);
      return { n: 2 };
    };
    const started = Date.now();
    const stale = await Promise.all([
      cacheA.getOrSetWithInfo(key, slowV2, options),
      cacheA.getOrSetWithInfo(key, slowV2, options),
    ]);
    expect(Date.now() - started).toBeLessThan(250);
    expect(stale).toEqual([
      { value: { n: 1 }, hit: true, stale: true },
      { value: { n: 1 }, hit: true, stale: true },
    ]);
    await sleep(500);
    expect(refreshes).toBe(1);
    expect(await cacheA.getOrSetWithInfo(key, version(3), options)).toEqual({ value: { n: 2 }, hit: true });
  });

  it('a failing refresh keeps serving the stale value and logs it', async () => {
    const key = uniquePrefix('swr-fail');
    const options = { ttlSeconds: 1, graceSeconds: 30 };
    await cacheA.getOrSet(key, version(1), options);
    await sleep(1_100);
    const from = log.lines.length;
    const failing = async () => {
      throw new Error('database down');
    };
    expect(await cacheA.getOrSetWithInfo(key, failing, options)).toEqual({ value: { n: 1 }, hit: true, stale: true });
    await sleep(100);
    expect(log.lines.slice(from)).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'Cache refresh failed: serving the stale value' }),
    );
    expect(await cacheA.getOrSetWithInfo(key, failing, options)).toMatchObject({ value: { n: 1 }, stale: true });
  });

  it('softTimeoutMs: a refresh that ends in time is answered fresh; a slower one gives the stale value at the timeout', async () => {
    const key = uniquePrefix('soft');
    await cacheA.getOrSet(key, version(1), { ttlSeconds: 1, graceSeconds: 30 });
    await sleep(1_100);
    const quick = async () => {
      await sleep(50);
      return { n: 2 };
    };
    expect(await cacheA.getOrSetWithInfo(key, quick, { ttlSeconds: 1, graceSeconds: 30, softTimeoutMs: 500 })).toEqual({
      value: { n: 2 },
      hit: false,
    });
    await sleep(1_100);
    const slow = async () => {
      await sleep(1_000);
      return { n: 3 };
    };
    const started = Date.now();
    expect(await cacheA.getOrSetWithInfo(key, slow, { ttlSeconds: 1, graceSeconds: 30, softTimeoutMs: 150 })).toEqual({
      value: { n: 2 },
      hit: true,
      stale: true,
    });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(700);
  });

  it('hardTimeoutMs: a load past it rejects with ERR_TIMEOUT, stores nothing and frees the key for the next caller', async () => {
    const key = uniquePrefix('hard');
    const started = Date.now();
    await expect(
      cacheA.getOrSet(
        key,
        async () => {
          await sleep(1_000);
          return { n: 1 };
        },
        { ttlSeconds: 60, hardTimeoutMs: 100 },
      ),
    ).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(600);
    expect(server.cli('EXISTS', `{${key}}:lease`, key)).toBe('0');
    expect(await cacheB.getOrSetWithInfo(key, version(2), { ttlSeconds: 60 })).toEqual({ value: { n: 2 }, hit: false });
  });

  it('rejects options it cannot honour, naming them', async () => {
    await expect(cacheA.getOrSet('k', version(1), { graceSeconds: 5 })).rejects.toThrow(
      /options\.graceSeconds needs options\.ttlSeconds/,
    );
    await expect(cacheA.getOrSet('k', version(1), { softTimeoutMs: -1 })).rejects.toThrow(
      /options\.softTimeoutMs must be a positive number of milliseconds, got -1/,
    );
    await expect(cacheA.getOrSet('k', version(1), { leaseMs: 0 })).rejects.toThrow(/options\.leaseMs/);
  });
});
