import net from 'node:net';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  CacheService,
  RateLimiter,
  RedisConnection,
  RedisLayerError,
  connectRedis,
  redisConnection,
  setLogger,
  defaultLogger,
} from '..';
import { freePort, recordingLogger, sleep, startRedis, type TestServer, uniquePrefix } from './helpers/redis';

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
    const sentinel = { masterName: 'm', nodes: ['redis://127.0.0.1:26379'] };
    expect(() => new RedisConnection({ sentinel: { ...sentinel, masterPassword: 5 as unknown as string } })).toThrow(
      /options\.sentinel\.masterPassword/,
    );
    expect(() => new RedisConnection({ sentinel: { ...sentinel, masterUsername: null as unknown as string } })).toThrow(
      TypeError,
    );
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
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('environment variables come from process.env at connect() time', () => {
  let server: TestServer;
  let secured: TestServer;
  const saved = {
    url: process.env.REDIS_URL,
    password: process.env.REDIS_PASSWORD,
    nodes: process.env.REDIS_CLUSTER_NODES,
  };
  beforeAll(async () => {
    [server, secured] = await Promise.all([startRedis(), startRedis({ password: 's3cret-pw' })]);
  });
  afterEach(async () => {
    restoreEnv('REDIS_URL', saved.url);
    restoreEnv('REDIS_PASSWORD', saved.password);
    restoreEnv('REDIS_CLUSTER_NODES', saved.nodes);
    await redisConnection.close();
  });
  afterAll(() => Promise.all([server.stop(), secured.stop()]));

  // Jest gives each test file its own process.env: what is set here never reaches the OS environment.
  it('uses REDIS_URL set in this realm, read at connect() and not at construction', async () => {
    const connection = new RedisConnection();
    process.env.REDIS_URL = server.url;
    log.lines.length = 0;
    await connection.connect();
    const key = `${uniquePrefix('env-url')}k`;
    await connection.getClient().set(key, 'from-process-env');
    expect(server.cli('GET', key)).toBe('from-process-env');
    const target = log.lines.find((l) => l.level === 'info' && /connecting to/i.test(l.message));
    expect(target?.message).toContain(`127.0.0.1:${server.port}`);
    expect(target?.message).toContain('REDIS_URL');
    await connection.close();
  });

  it('uses REDIS_PASSWORD set in this realm against a password-protected server', async () => {
    process.env.REDIS_URL = `redis://127.0.0.1:${secured.port}`;
    process.env.REDIS_PASSWORD = 's3cret-pw';
    const connection = new RedisConnection();
    log.lines.length = 0;
    await connection.connect();
    const key = `${uniquePrefix('env-pw')}k`;
    await connection.getClient().set(key, 'authenticated');
    expect(secured.cli('GET', key)).toBe('authenticated');
    expect(log.text()).not.toContain('s3cret-pw');
    await connection.close();
  });

  it('options win over the environment', async () => {
    process.env.REDIS_URL = `redis://127.0.0.1:${await freePort()}`;
    process.env.REDIS_PASSWORD = 'not-this-one';
    const connection = new RedisConnection({ url: secured.url.replace('s3cret-pw', 'wrong'), password: 's3cret-pw' });
    await connection.connect();
    const key = `${uniquePrefix('env-opt')}k`;
    await connection.getClient().set(key, 'v');
    expect(secured.cli('GET', key)).toBe('v');
    await connection.close();
  });

  it('connectRedis(options) configures the shared connection before it connects', async () => {
    const key = `${uniquePrefix('singleton')}k`;
    await connectRedis({ url: server.url });
    await redisConnection.getClient().set(key, 'shared');
    expect(server.cli('GET', key)).toBe('shared');
    await expect(connectRedis({ url: server.url })).resolves.toBeUndefined();
    await expect(connectRedis()).resolves.toBeUndefined();
    await expect(connectRedis({ url: secured.url })).rejects.toThrow(/already connected with other options/);
    await expect(connectRedis({ url: 7 as unknown as string })).rejects.toThrow(TypeError);
    expect(redisConnection.isConnected).toBe(true);
    await redisConnection.close();
    await connectRedis({ url: secured.url });
    await redisConnection.getClient().set(key, 'moved');
    expect(secured.cli('GET', key)).toBe('moved');
  });
});

describe('close() during connect()', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server.stop());
  /** Sockets open on the test server, without the redis-cli asking. */
  const sockets = () =>
    server
      .cli('CLIENT', 'LIST')
      .split('\n')
      .filter((line) => line.trim() && !line.includes('cmd=client')).length;
  const settled = (promise: Promise<void>) =>
    promise.then(
      () => 'resolved' as const,
      (error: unknown) => error as RedisLayerError,
    );

  it('rejects the pending connect with ERR_CLOSED and leaves no socket open, then connects again', async () => {
    const stall = new RedisConnection({ url: server.url });
    await stall.connect();
    const baseline = sockets();
    const sleeping = stall.getClient().sendCommand(['DEBUG', 'SLEEP', '1']);
    await sleep(50);
    const connection = new RedisConnection({ url: server.url });
    const pending = settled(connection.connect());
    await sleep(100);
    const closing = Date.now();
    await connection.close();
    const outcome = await pending;
    expect(Date.now() - closing).toBeLessThan(500);
    expect(outcome).toBeInstanceOf(RedisLayerError);
    expect((outcome as RedisLayerError).code).toBe('ERR_CLOSED');
    expect((outcome as RedisLayerError).message).toMatch(/closed while connecting/);
    expect(connection.isConnected).toBe(false);
    expect(() => connection.getClient()).toThrow('Redis not connected');
    await sleeping;
    await sleep(200);
    expect(sockets()).toBe(baseline);

    await connection.connect();
    expect(connection.isConnected).toBe(true);
    expect(await connection.getClient().ping()).toBe('PONG');
    expect(sockets()).toBe(baseline + 3);
    await connection.close();
    await stall.close();
  });

  it('settles at once on a server that never answers, and closes every socket it opened', async () => {
    const accepted: net.Socket[] = [];
    const open = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      accepted.push(socket);
      open.add(socket);
      socket.on('end', () => open.delete(socket));
      socket.on('error', () => open.delete(socket));
      socket.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const connection = new RedisConnection({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 30_000 });
      const pending = settled(connection.connect());
      const deadline = Date.now() + 5000;
      while (accepted.length < 3 && Date.now() < deadline) await sleep(10);
      expect(accepted.length).toBe(3);
      const closing = Date.now();
      await Promise.all([connection.close(), connection.close()]);
      expect(((await pending) as RedisLayerError).code).toBe('ERR_CLOSED');
      expect(Date.now() - closing).toBeLessThan(1000);
      while (open.size > 0 && Date.now() < deadline) await sleep(10);
      expect(open.size).toBe(0);
      expect(connection.isConnected).toBe(false);
    } finally {
      for (const s of accepted) s.destroy();
      silent.close();
    }
  });

  it('close wins at every moment of connect(), twice in a row too', async () => {
    const baseline = sockets();
    const connection = new RedisConnection({ url: server.url });
    for (const delay of [0, 0, 1, 2, 3, 5, 8, 13, 21]) {
      const pending = settled(connection.connect());
      if (delay > 0) await sleep(delay);
      else await Promise.resolve();
      await connection.close();
      await connection.close();
      const outcome = await pending;
      expect(outcome === 'resolved' || (outcome as RedisLayerError).code === 'ERR_CLOSED').toBe(true);
      expect(connection.isConnected).toBe(false);
    }
    await sleep(200);
    expect(sockets()).toBe(baseline);
    await connection.connect();
    expect(await connection.getClient().ping()).toBe('PONG');
    await connection.close();
  });
});

describe('zero timeouts mean no timeout', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server.stop());

  it('commandTimeoutMs: 0 lets slow and blocking commands finish; checkLimit stays exact', async () => {
    const connection = new RedisConnection({ url: server.url, commandTimeoutMs: 0 });
    await connection.connect();
    const client = connection.getClient();
    expect(await client.sendCommand(['DEBUG', 'SLEEP', '0.3'])).toBe('OK');
    const started = Date.now();
    expect(await client.sendCommand(['BLPOP', `${uniquePrefix('blpop')}k`, '1'])).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const limiter = new RateLimiter(connection);
    const id = uniquePrefix('zero');
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 3 }));
    expect(results.map((r) => r.degraded)).toEqual([false, false, false, false]);
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    await connection.close();
  });

  it('connectTimeoutMs: 0 waits for a server that is slow to answer', async () => {
    const stall = new RedisConnection({ url: server.url });
    await stall.connect();
    const sleeping = stall.getClient().sendCommand(['DEBUG', 'SLEEP', '0.5']);
    await sleep(50);
    const connection = new RedisConnection({ url: server.url, connectTimeoutMs: 0, commandTimeoutMs: 0 });
    await connection.connect();
    expect(await connection.getClient().ping()).toBe('PONG');
    await sleeping;
    await connection.close();
    await stall.close();
  });
});

describe('no password from any URL reaches an error or a log line', () => {
  const PW = 'Pw-7f3c9a1e';
  // Each URL carries PW somewhere a careless redaction would keep it.
  const urls = [
    `redis:/user:${PW}@127.0.0.1:1`,
    `redis:user:${PW}@127.0.0.1:1`,
    `user:${PW}@127.0.0.1:1`,
    `:${PW}@127.0.0.1:1`,
    `${PW}@127.0.0.1:1`,
    `//user:${PW}@127.0.0.1:1`,
    `redis//user:${PW}@127.0.0.1:1`,
    `rediss:/user:${PW}@127.0.0.1:1`,
    `rediss:user:${PW}@127.0.0.1:1`,
    `REDIS:/user:${PW}@127.0.0.1:1`,
    `http://user:${PW}@127.0.0.1:1`,
    `redis:/user:${PW}@extra@127.0.0.1:1`,
    `redis:/user:a@${PW}@127.0.0.1:1`,
    `redis:/user:${PW}:more/x@127.0.0.1:1`,
    `redis:/user:${PW}%40x@127.0.0.1:1`,
    `redis://user:${PW}/x@127.0.0.1:1`,
    `redis://user:${PW}@127.0.0.1:notaport`,
    `  redis:/user:${PW}@127.0.0.1:1  `,
    `redis:/üser:${PW}ß@höst:1`,
    `unix:relative.sock?pass=${PW}`,
    `redis+unix:relative?db=0&pass=${PW}`,
  ];

  async function failure(options: ConstructorParameters<typeof RedisConnection>[0]): Promise<RedisLayerError> {
    const connection = new RedisConnection({ connectTimeoutMs: 2000, ...options });
    const error = await connection.connect().then(
      () => undefined,
      (e: unknown) => e as RedisLayerError,
    );
    await connection.close();
    expect(error).toBeInstanceOf(Error);
    return error as RedisLayerError;
  }

  function expectNoSecret(error: Error) {
    for (const text of [error.message, String(error.stack), log.text()]) {
      expect(text).not.toContain(PW);
    }
  }

  it.each(urls)('url %j', async (url) => {
    log.lines.length = 0;
    const error = await failure({ url });
    expect(error.code).toMatch(/^ERR_(INVALID_URL|CONNECTION_REFUSED|CONNECT_TIMEOUT)$/);
    expectNoSecret(error);
  });

  it('in cluster and sentinel node lists and in REDIS_URL', async () => {
    const saved = process.env.REDIS_URL;
    try {
      for (const url of urls) {
        log.lines.length = 0;
        expectNoSecret(await failure({ cluster: { nodes: ['redis://127.0.0.1:1', url] } }));
        expectNoSecret(await failure({ sentinel: { masterName: 'm', nodes: [url, 'redis://127.0.0.1:1'] } }));
        process.env.REDIS_URL = url;
        expectNoSecret(await failure({}));
      }
    } finally {
      restoreEnv('REDIS_URL', saved);
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
    const error = (await connection
      .getClient()
      .get('x')
      .catch((e: unknown) => e)) as RedisLayerError;
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
    const dispatcher = connection.dispatcher();
    await expect(dispatcher.panicForTesting(true)).rejects.toThrow(/panicked/);
    await expect(dispatcher.panicForTesting(false)).rejects.toThrow(Error);
    expect(await connection.getClient().ping()).toBe('PONG');
    await connection.close();
  });
});

function restoreEnv(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
