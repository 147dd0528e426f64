import { RateLimiter, RedisConnection, setLogger, defaultLogger } from '..';
import { recordingLogger, startRedis, type TestServer, uniquePrefix } from './helpers/redis';
import { type Cluster, startCluster } from './helpers/topology';

// Scripts run by hash (EVALSHA); a server that does not know one yet (fresh, restarted,
// or after SCRIPT FLUSH) must still see every call in the order it was made.

const log = recordingLogger();
const p = uniquePrefix('order');
let server: TestServer;
let counter = 0;
const who = () => `${p}${++counter}`;

async function withConnection<T>(run: (connection: RedisConnection) => Promise<T>): Promise<T> {
  const connection = new RedisConnection({ url: server.url });
  await connection.connect();
  try {
    return await run(connection);
  } finally {
    await connection.close();
  }
}

function burst(limiter: RateLimiter, id: string, count: number, maxRequests: number) {
  return Promise.all(
    Array.from({ length: count }, () => limiter.checkLimit(id, 'login', { windowMs: 60_000, maxRequests })),
  );
}

const expected = (count: number, allowed: number) => Array.from({ length: count }, (_, i) => i < allowed);

beforeAll(async () => {
  setLogger(log.logger);
  server = await startRedis();
});

afterAll(async () => {
  setLogger(defaultLogger);
  await server.stop();
});

describe('call order across a script the server does not know yet', () => {
  it('allows the first k of a burst and denies the rest, in call order, on a fresh server', async () => {
    await withConnection(async (connection) => {
      const limiter = new RateLimiter(connection);
      const results = await burst(limiter, who(), 8, 5);
      expect(results.map((r) => r.allowed)).toEqual(expected(8, 5));
      expect(results.every((r) => !r.degraded)).toBe(true);
    });
  });

  it('keeps order after SCRIPT FLUSH, for a burst of several pipelined batches', async () => {
    await withConnection(async (connection) => {
      const limiter = new RateLimiter(connection);
      expect((await burst(limiter, who(), 1, 1))[0].allowed).toBe(true);
      server.cli('SCRIPT', 'FLUSH');
      const results = await burst(limiter, who(), 300, 77);
      expect(results.map((r) => r.allowed)).toEqual(expected(300, 77));
      expect(results.map((r) => r.remaining)).toEqual(Array.from({ length: 300 }, (_, i) => Math.max(0, 76 - i)));
    });
  });

  it('keeps a plain command queued after a script behind it, on a new connection and after a reconnect', async () => {
    server.cli('SCRIPT', 'FLUSH');
    const connection = new RedisConnection({ url: server.url });
    await connection.connect();
    try {
      const limiter = new RateLimiter(connection);
      const checkThenOverwrite = async () => {
        const id = who();
        // The SET turns the limiter's sorted set into a string: run before the script,
        // it makes the script fail (WRONGTYPE) and the limiter report a degraded result.
        const check = limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 3 });
        const overwrite = connection.getClient().set(`rate_limit:api:${id}`, 'plain');
        const [result, set] = await Promise.all([check, overwrite]);
        expect(result).toMatchObject({ allowed: true, remaining: 2, degraded: false });
        expect(set).toBe('OK');
        expect(server.cli('TYPE', `rate_limit:api:${id}`)).toBe('string');
      };
      await checkThenOverwrite();
      // A restarted server has an empty script cache; the reconnected socket must load the script again.
      await server.kill();
      await server.restart();
      const deadline = Date.now() + 10_000;
      while (!connection.isConnected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(connection.isConnected).toBe(true);
      await checkThenOverwrite();
    } finally {
      await connection.close();
    }
  });
});

// On a cluster calls go out one by one and redis-rs may reorder concurrent ones, so
// these check what the lane controls: a script reaches every master with its first
// call (no later NOSCRIPT round trip), and a flushed script cache costs no result.
describe('scripts on a Redis Cluster', () => {
  let cluster: Cluster;
  let connection: RedisConnection;

  beforeAll(async () => {
    cluster = await startCluster({ replicasPerMaster: 0 });
    connection = new RedisConnection({ cluster: { nodes: cluster.urls } });
    await connection.connect();
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  async function cachedScripts(): Promise<number[]> {
    const counts = [];
    for (const node of await cluster.masters()) {
      const info = String(await node.cmd('INFO', 'memory'));
      counts.push(Number(/number_of_cached_scripts:(\d+)/.exec(info)?.[1]));
    }
    return counts;
  }

  const flushAll = async () => {
    for (const node of await cluster.masters()) await node.cmd('SCRIPT', 'FLUSH');
  };

  it('caches a script on every master with its first call', async () => {
    await flushAll();
    expect(await cachedScripts()).toEqual([0, 0, 0]);
    const result = await new RateLimiter(connection).checkLimit(who(), 'login', { windowMs: 60_000, maxRequests: 3 });
    expect(result).toMatchObject({ allowed: true, degraded: false });
    for (const count of await cachedScripts()) expect(count).toBeGreaterThanOrEqual(1);
  });

  it('gives every call its result after SCRIPT FLUSH on every master', async () => {
    const limiter = new RateLimiter(connection);
    await burst(limiter, who(), 1, 1);
    await flushAll();
    const ids = [who(), who(), who()];
    const results = await Promise.all(ids.map((id) => burst(limiter, id, 12, 7)));
    for (const perId of results) {
      expect(perId.filter((r) => r.allowed)).toHaveLength(7);
      expect(perId.every((r) => !r.degraded)).toBe(true);
    }
  });
});
