import { createHook } from 'node:async_hooks';
import { MessageBroker, RedisConnection, type RedisLayerError, setLogger, defaultLogger } from '..';
import { recordingLogger, sleep, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

// Every callback native code makes into JavaScript is a napi-rs threadsafe function, an
// async resource of this type. close() must release every one a connection created.
const TSFN = 'napi_rs_threadsafe_function';
const live = new Set<number>();
const hook = createHook({
  init(id, type) {
    if (type === TSFN) live.add(id);
  },
  destroy(id) {
    live.delete(id);
  },
});

const log = recordingLogger();
const p = uniquePrefix('handles');
let server: TestServer;

async function settlesTo(count: number): Promise<number> {
  const deadline = Date.now() + 3000;
  while (live.size !== count && Date.now() < deadline) await sleep(10);
  return live.size;
}

beforeAll(async () => {
  hook.enable();
  setLogger(log.logger);
  server = await testRedis();
});

afterAll(async () => {
  hook.disable();
  setLogger(defaultLogger);
  await server.stop();
});

describe('close() releases the native handles connect() created', () => {
  it('for the three sockets of a RedisConnection, over repeated cycles', async () => {
    const before = live.size;
    for (let cycle = 0; cycle < 3; cycle++) {
      const connection = new RedisConnection({ url: server.url });
      await connection.connect();
      expect(live.size).toBeGreaterThan(before);
      expect(await connection.getClient().set(`${p}k`, String(cycle))).toBe('OK');
      await connection.close();
      expect(await settlesTo(before)).toBe(before);
    }
  });

  it("for the message broker's subscriber socket", async () => {
    const before = live.size;
    const connection = new RedisConnection({ url: server.url });
    await connection.connect();
    const withClients = live.size;
    const broker = new MessageBroker(connection);
    const seen: unknown[] = [];
    await broker.subscribe(`${p}chan`, (message) => {
      seen.push(message.data);
    });
    // It subscribes on the subscriber socket connect() opened: no socket of its own.
    expect(live.size).toBe(withClients);
    await broker.publish(`${p}chan`, { type: 't', data: 1 });
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await sleep(10);
    expect(seen).toEqual([1]);
    await connection.close();
    expect(await settlesTo(before)).toBe(before);
  });

  it('for the subscriber socket of a broker with inbox bounds of its own', async () => {
    const before = live.size;
    const connection = new RedisConnection({ url: server.url });
    await connection.connect();
    const withClients = live.size;
    const broker = new MessageBroker(connection, { maxQueuedMessages: 1000 });
    await broker.subscribe(`${p}own`, () => undefined);
    expect(live.size).toBeGreaterThan(withClients);
    await connection.close();
    expect(await settlesTo(before)).toBe(before);
  });

  it('settles the calls in flight at close, and rejects later calls with ERR_CLOSED', async () => {
    const before = live.size;
    const connection = new RedisConnection({ url: server.url });
    await connection.connect();
    const client = connection.getClient();
    const broker = new MessageBroker(connection);
    const handler = () => undefined;
    await broker.subscribe(`${p}c2`, handler);
    const inFlight = Array.from({ length: 200 }, (_, i) => client.set(`${p}f${i}`, 'v'));
    const unsubscribing = broker.unsubscribe(`${p}c2`, handler);
    await connection.close();
    const outcomes = await Promise.allSettled([...inFlight, unsubscribing]);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected')
        expect((outcome.reason as RedisLayerError).code).toMatch(/^ERR_(CLOSED|NOT_CONNECTED|CONNECTION_LOST)$/);
    }
    const later = await Promise.allSettled([
      client.get(`${p}f0`),
      client.sendCommand(['PING']),
      client.multi().get(`${p}f1`).exec(),
    ]);
    for (const outcome of later) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({
        code: 'ERR_CLOSED',
        message: 'Redis connection is closed',
      });
    }
    expect(await settlesTo(before)).toBe(before);
  });
});
