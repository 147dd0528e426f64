import net from 'node:net';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CacheService, RedisConnection, RedisLayerError, setLogger, defaultLogger } from '..';
import { freePort, recordingLogger, sleep, startRedis, TestServer, uniquePrefix } from './helpers/redis';

const root = path.resolve(__dirname, '..');
const log = recordingLogger();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(() => {
  setLogger(log.logger);
  process.on('unhandledRejection', onUnhandled);
});

afterAll(() => {
  setLogger(defaultLogger);
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('RedisConnection lifecycle', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server.stop());

  it('throws "Redis not connected" from every getter before connect() and after close()', async () => {
    const connection = new RedisConnection({ url: server.url });
    for (const getter of ['getClient', 'getSubscriber', 'getPublisher'] as const) {
      expect(() => connection[getter]()).toThrow(Error);
      expect(() => connection[getter]()).toThrow('Redis not connected');
    }
    expect(connection.isConnected).toBe(false);
    await connection.connect();
    expect(connection.isConnected).toBe(true);
    expect(await connection.getClient().ping()).toBe('PONG');
    expect(connection.getSubscriber()).toBeDefined();
    expect(connection.getPublisher()).toBeDefined();
    await connection.close();
    expect(connection.isConnected).toBe(false);
    expect(() => connection.getClient()).toThrow('Redis not connected');
  });

  it('opens the seed three connections and logs the connect event', async () => {
    log.lines.length = 0;
    const before = Number(server.cli('INFO', 'clients').match(/connected_clients:(\d+)/)![1]);
    const connection = new RedisConnection({ url: server.url });
    await connection.connect();
    const during = Number(server.cli('INFO', 'clients').match(/connected_clients:(\d+)/)![1]);
    expect(during - before).toBe(3);
    await sleep(50);
    expect(log.lines.some((l) => l.level === 'info' && /connected/i.test(l.message))).toBe(true);
    await connection.close();
  });

  it('connect() is idempotent and concurrent calls share one attempt', async () => {
    const connection = new RedisConnection({ url: server.url });
    await Promise.all([connection.connect(), connection.connect(), connection.connect()]);
    await connection.connect();
    expect(connection.isConnected).toBe(true);
    await connection.close();
  });

  it('reads REDIS_URL and REDIS_PASSWORD at connect() time, not at construction', async () => {
    const secured = await startRedis({ password: 's3cret-pw' });
    const saved = { url: process.env.REDIS_URL, password: process.env.REDIS_PASSWORD };
    try {
      const connection = new RedisConnection();
      process.env.REDIS_URL = `redis://127.0.0.1:${secured.port}`;
      process.env.REDIS_PASSWORD = 's3cret-pw';
      await connection.connect();
      expect(await connection.getClient().ping()).toBe('PONG');
      await connection.close();
    } finally {
      restoreEnv('REDIS_URL', saved.url);
      restoreEnv('REDIS_PASSWORD', saved.password);
      await secured.stop();
    }
  });

  it('uses the database option', async () => {
    const connection = new RedisConnection({ url: server.url, database: 3 });
    await connection.connect();
    const key = `${uniquePrefix('db')}k`;
    await connection.getClient().set(key, 'v');
    expect(server.cli('-n', '3', 'GET', key)).toBe('v');
    expect(server.cli('-n', '0', 'EXISTS', key)).toBe('0');
    await connection.close();
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new RedisConnection({ url: 5 as unknown as string })).toThrow(/options\.url/);
    expect(() => new RedisConnection({ commandTimeoutMs: -1 })).toThrow(TypeError);
    expect(() => new RedisConnection('redis://x' as unknown as object)).toThrow(TypeError);
  });
});

describe('connect() failures reject within connectTimeoutMs and say why', () => {
  it('names the refusal for a closed port', async () => {
    const port = await freePort();
    const connection = new RedisConnection({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 2000 });
    const error = await connection.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as RedisLayerError).code).toBe('ERR_CONNECTION_REFUSED');
    expect((error as Error).message).toMatch(/refused/i);
    expect((error as Error).message).toContain(String(port));
    expect(() => connection.getClient()).toThrow('Redis not connected');
  });

  it('names the URL problem for an unparsable URL, without the password', async () => {
    const connection = new RedisConnection({ url: 'http://user:hunter2@nowhere' });
    const error = (await connection.connect().catch((e: unknown) => e)) as RedisLayerError;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('ERR_INVALID_URL');
    expect(error.message).toMatch(/URL/);
    expect(error.message).not.toContain('hunter2');
  });

  it('names the authentication failure for a wrong password, without the password', async () => {
    const secured = await startRedis({ password: 'right-pw' });
    try {
      const connection = new RedisConnection({ url: `redis://127.0.0.1:${secured.port}`, password: 'wrong-pw-123' });
      const error = (await connection.connect().catch((e: unknown) => e)) as RedisLayerError;
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe('ERR_AUTH_FAILED');
      expect(error.message).toMatch(/auth/i);
      expect(error.message).not.toContain('wrong-pw-123');
      expect(log.text()).not.toContain('wrong-pw-123');
    } finally {
      await secured.stop();
    }
  });

  it('gives up on a server that accepts but never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const connection = new RedisConnection({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 });
      const started = Date.now();
      const error = (await connection.connect().catch((e: unknown) => e)) as RedisLayerError;
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });
});

describe('when Redis goes away', () => {
  it('fails commands fast while down, never queues them, and reconnects by itself', async () => {
    const server = await startRedis();
    const connection = new RedisConnection({ url: server.url, commandTimeoutMs: 1000 });
    await connection.connect();
    const cache = new CacheService(connection);
    const client = connection.getClient();
    const key = `${uniquePrefix('outage')}k`;
    expect(await cache.set(key, { v: 1 })).toBe(true);

    await server.kill();
    const started = Date.now();
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => client.get(key)));
    expect(Date.now() - started).toBeLessThan(2500);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(Error);
    }
    expect(await cache.get(key)).toBeNull();
    expect(await cache.set(key, 2)).toBe(false);
    expect(await cache.ttl(key)).toBe(-1);
    expect(log.lines.some((l) => l.level === 'warn' && /disconnected/i.test(l.message))).toBe(true);

    await server.restart();
    const deadline = Date.now() + 10_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline) {
      healthy = (await cache.set(key, { back: true })) === true;
      if (!healthy) await sleep(100);
    }
    expect(healthy).toBe(true);
    expect(await cache.get(key)).toEqual({ back: true });
    expect(connection.isConnected).toBe(true);
    expect(log.lines.some((l) => l.level === 'info' && /reconnected/i.test(l.message))).toBe(true);
    await connection.close();
    await server.stop();
  });

  it('times a command out after commandTimeoutMs when the server stalls', async () => {
    const server = await startRedis();
    const connection = new RedisConnection({ url: server.url, commandTimeoutMs: 300 });
    await connection.connect();
    const cache = new CacheService(connection);
    const stall = new RedisConnection({ url: server.url });
    await stall.connect();
    const sleeping = stall.getClient().sendCommand(['DEBUG', 'SLEEP', '1.5']);
    await sleep(50);
    const started = Date.now();
    const error = (await connection.getClient().get('x').catch((e: unknown) => e)) as RedisLayerError;
    expect(error.code).toBe('ERR_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1200);
    await sleeping;
    expect(await cache.set('after-stall', 1)).toBe(true);
    await stall.close();
    await connection.close();
    await server.stop();
  });
});

describe('process hygiene', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server.stop());

  it('a script that connects, works and closes exits on its own', () => {
    const script = `
      const { redisConnection, connectRedis, cacheService } = require(${JSON.stringify(root)});
      (async () => {
        await connectRedis();
        await cacheService.set('exit-check', { ok: true }, 60);
        const value = await cacheService.get('exit-check');
        await redisConnection.close();
        console.log(JSON.stringify(value));
      })();`;
    const result = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, REDIS_URL: server.url },
      timeout: 15_000,
      encoding: 'utf8',
    });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('{"ok":true}');
  });

  it('a script awaiting Redis stays alive until the reply arrives', () => {
    const script = `
      const { RedisConnection } = require(${JSON.stringify(root)});
      const c = new RedisConnection({ url: ${JSON.stringify(server.url)} });
      c.connect().then(() => c.getClient().sendCommand(['DEBUG', 'SLEEP', '0.3']))
        .then((r) => { console.log('reply', r); return c.close(); });`;
    const result = spawnSync(process.execPath, ['-e', script], { timeout: 15_000, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('reply OK');
  });

  it('logs warn and error to stderr by default; LOG_LEVEL changes the level', () => {
    const script = `
      const { RedisConnection, CacheService } = require(${JSON.stringify(root)});
      (async () => {
        const c = new RedisConnection({ url: ${JSON.stringify(server.url)} });
        await c.connect();
        await new CacheService(c).set('log-level', undefined);
        await new Promise((r) => setTimeout(r, 50));
        await c.close();
      })();`;
    const run = (level?: string) => {
      const env = { ...process.env };
      delete env.LOG_LEVEL;
      if (level) env.LOG_LEVEL = level;
      return spawnSync(process.execPath, ['-e', script], { env, timeout: 15_000, encoding: 'utf8' }).stderr;
    };
    const byDefault = run();
    expect(byDefault).toContain('ERROR Cache set error');
    expect(byDefault).not.toContain('INFO');
    const verbose = run('info');
    expect(verbose).toContain('INFO Redis connected');
    expect(run('silent')).toBe('');
  });

  /** A worker's source: it connects, writes `value` under `key`, posts what it reads back and closes. */
  const workerRoundTrip = (key: string, value: object) => `
    const { parentPort } = require('node:worker_threads');
    const { RedisConnection, CacheService } = require(${JSON.stringify(root)});
    (async () => {
      const c = new RedisConnection({ url: ${JSON.stringify(server.url)} });
      await c.connect();
      const cache = new CacheService(c);
      await cache.set(${JSON.stringify(key)}, ${JSON.stringify(value)});
      parentPort.postMessage(await cache.get(${JSON.stringify(key)}));
      await c.close();
    })();`;

  it('loads and works inside worker_threads', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const code = ${JSON.stringify(workerRoundTrip('worker-key', { w: true }))};
      const results = [];
      for (let i = 0; i < 2; i++) {
        const w = new Worker(code, { eval: true });
        w.on('message', (m) => results.push(m));
        w.on('error', (e) => { console.error(e); process.exit(2); });
      }
      process.on('exit', () => console.log(JSON.stringify(results)));`;
    const result = spawnSync(process.execPath, ['-e', script], { timeout: 20_000, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual([{ w: true }, { w: true }]);
  });

  it('survives the worker that loaded it first exiting before another worker loads it', () => {
    // The main thread never loads the addon, so the first worker is the allocator's first thread; the
    // second starts after it has exited and may reuse its thread id (mimalloc v3's crash, see Cargo.toml).
    const script = `
      const { Worker } = require('node:worker_threads');
      const code = ${JSON.stringify(workerRoundTrip('worker-seq', { n: 1 }))};
      const results = [];
      const once = () => new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true });
        w.on('message', (m) => results.push(m));
        w.on('error', reject);
        w.on('exit', resolve);
      });
      (async () => {
        for (let i = 0; i < 3; i++) await once();
        console.log(JSON.stringify(results));
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const result = spawnSync(process.execPath, ['-e', script], { timeout: 30_000, encoding: 'utf8' });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }]);
  });

  it('turns a Rust panic into a rejected promise or a thrown Error, never a dead process', async () => {
    const connection = new RedisConnection({ url: server.url });
    await connection.connect();
    const { dispatcher } = connection.getClient() as unknown as {
      dispatcher: { run(submit: (id: number) => void): Promise<unknown>; native: { panicForTesting(id: number, inTask: boolean): void } };
    };
    await expect(dispatcher.run((id) => dispatcher.native.panicForTesting(id, true))).rejects.toThrow(/panicked/);
    await expect(dispatcher.run((id) => dispatcher.native.panicForTesting(id, false))).rejects.toThrow(Error);
    expect(await connection.getClient().ping()).toBe('PONG');
    await connection.close();
  });
});

function restoreEnv(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
