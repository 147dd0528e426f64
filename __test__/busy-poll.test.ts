import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { CacheService, RedisConnection } from '..';
import { sleep, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

// The I/O thread polls instead of sleeping while a lone call is in flight (src/busy_poll.rs).
// These check what a user relies on: answers stay right and in order, a command slower than
// the polling window still settles, an idle process does not keep a core busy, and the
// REDIS_LAYER_BUSY_POLL_US switch works (it is read once per process, hence the children).

const ROOT = path.join(__dirname, '..');
let server: TestServer;
let connection: RedisConnection;
let cache: CacheService;
const p = uniquePrefix('busy-poll');

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  cache = new CacheService(connection);
});

afterAll(async () => {
  await connection.close();
  await server.stop();
});

it('answers sequential awaited calls in order, each with its own value', async () => {
  for (let i = 0; i < 300; i++) {
    await cache.set(`${p}seq:${i}`, { i });
    expect(await cache.get<{ i: number }>(`${p}seq:${i}`)).toEqual({ i });
  }
});

it('settles a lone command that outlasts the polling window', async () => {
  const client = connection.getClient();
  const started = Date.now();
  // BLPOP on an empty list waits out its 0.2 s timeout, far past the 1 ms of polling.
  expect(await client.sendCommand(['BLPOP', `${p}empty`, '0.2'])).toBeNull();
  expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  expect(await cache.get(`${p}seq:1`)).toEqual({ i: 1 });
});

it('stops polling once idle: an idle process uses next to no CPU', async () => {
  for (let i = 0; i < 200; i++) await cache.get(`${p}seq:${i % 10}`);
  await sleep(50);
  const before = process.cpuUsage();
  await sleep(500);
  const used = process.cpuUsage(before);
  // A poller left spinning would use the whole 500 ms of a core.
  expect((used.user + used.system) / 1000).toBeLessThan(200);
});

function runChild(env: Record<string, string>) {
  const script = `
    const { RedisConnection, CacheService } = require(${JSON.stringify(ROOT)});
    (async () => {
      const connection = new RedisConnection({ url: ${JSON.stringify(server.url)} });
      await connection.connect();
      const cache = new CacheService(connection);
      for (let i = 0; i < 50; i++) {
        await cache.set(${JSON.stringify(`${p}child:`)} + i, { i });
        const back = await cache.get(${JSON.stringify(`${p}child:`)} + i);
        if (!back || back.i !== i) throw new Error('wrong value for ' + i);
      }
      await connection.close();
      console.log('ok');
    })().catch((error) => { console.error(error); process.exit(2); });`;
  return spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

it('works with polling turned off (REDIS_LAYER_BUSY_POLL_US=0)', () => {
  const run = runChild({ REDIS_LAYER_BUSY_POLL_US: '0' });
  expect(run.stderr).toBe('');
  expect(run.stdout.trim()).toBe('ok');
  expect(run.status).toBe(0);
});

it('warns about a malformed REDIS_LAYER_BUSY_POLL_US and keeps the default', () => {
  const run = runChild({ REDIS_LAYER_BUSY_POLL_US: 'fast' });
  expect(run.stderr).toContain('REDIS_LAYER_BUSY_POLL_US');
  expect(run.stdout.trim()).toBe('ok');
  expect(run.status).toBe(0);
});
