// Keyv's own published test suite (@keyv/test-suite, run with vitest as Keyv's adapters run it)
// against redis-layer's Keyv adapter on a throwaway redis-server, plus what the suite leaves out.
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as test from 'vitest';
import { RedisConnection } from '../..';
import { KeyvRedisLayer } from '../../dist/adapters/keyv';
import { startTestRedis, type TestRedis } from '../../dist/testing';

let server: TestRedis;
let connection: RedisConnection;

test.beforeAll(async () => {
  server = await startTestRedis();
  connection = new RedisConnection({ url: server.url, commandTimeoutMs: 1000 });
  await connection.connect();
});

test.afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

const store = () => new KeyvRedisLayer({ connection });

keyvTestSuite(test, Keyv, store);
keyvIteratorTests(test, Keyv, store);

test.describe('beyond the suite', () => {
  test.it('clears only its own namespace, with SCAN, glob characters included', async () => {
    const mine = new Keyv({ store: store(), namespace: 'app*[1]' });
    const theirs = new Keyv({ store: store(), namespace: 'app-1' });
    await mine.set('a', 1);
    await theirs.set('b', 2);
    await mine.clear();
    test.expect(await mine.get('a')).toBeUndefined();
    test.expect(await theirs.get('b')).toBe(2);
    test
      .expect(
        server
          .cli('KEYS', '*')
          .split('\n')
          .filter((key) => key.includes('namespace')),
      )
      .toEqual([]);
  });

  test.it('stores with the TTL Keyv gives, in ms', async () => {
    const keyv = new Keyv({ store: store(), namespace: 'ttl' });
    await keyv.set('k', 'v', 1500);
    const pttl = Number(server.cli('PTTL', 'ttl:k'));
    test.expect(pttl).toBeGreaterThan(1000);
    test.expect(pttl).toBeLessThanOrEqual(1500);
  });

  test.it('with Redis down, every call settles within the command timeout instead of hanging', async () => {
    const own = await startTestRedis();
    const ownConnection = new RedisConnection({ url: own.url, commandTimeoutMs: 500 });
    await ownConnection.connect();
    try {
      const adapter = new KeyvRedisLayer({ connection: ownConnection });
      const keyv = new Keyv({ store: new KeyvRedisLayer({ connection: ownConnection }), namespace: 'down' });
      await own.kill();
      const started = Date.now();
      const calls: Record<string, Promise<unknown>> = {
        get: adapter.get('x'),
        getMany: adapter.getMany(['x', 'y']),
        set: adapter.set('x', 'v', 1000),
        setMany: adapter.setMany([{ key: 'x', value: 'v' }]),
        delete: adapter.delete('x'),
        deleteMany: adapter.deleteMany(['x', 'y']),
        has: adapter.has('x'),
        hasMany: adapter.hasMany(['x']),
        clear: adapter.clear(),
        iterator: adapter.iterator('down').next(),
      };
      const settled = await Promise.allSettled(Object.values(calls));
      test.expect(Date.now() - started).toBeLessThan(1500);
      test.expect(Object.keys(calls).filter((_, i) => settled[i]?.status !== 'rejected')).toEqual([]);
      // Through Keyv, which answers a failed store read as a miss.
      test.expect(await keyv.get('x')).toBeUndefined();
      test.expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await ownConnection.close();
      await own.stop();
    }
  });

  test.it('with Redis unresponsive (its process stopped), every call rejects within the command timeout', async () => {
    const own = await startTestRedis();
    const ownConnection = new RedisConnection({ url: own.url, commandTimeoutMs: 500 });
    await ownConnection.connect();
    const adapter = new KeyvRedisLayer({ connection: ownConnection });
    process.kill(own.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const calls: Record<string, Promise<unknown>> = {
        get: adapter.get('x'),
        getMany: adapter.getMany(['x', 'y']),
        set: adapter.set('x', 'v', 1000),
        setMany: adapter.setMany([{ key: 'x', value: 'v' }]),
        delete: adapter.delete('x'),
        deleteMany: adapter.deleteMany(['x', 'y']),
        has: adapter.has('x'),
        hasMany: adapter.hasMany(['x']),
        clear: adapter.clear(),
        iterator: adapter.iterator('down').next(),
      };
      const settled = await Promise.allSettled(Object.values(calls));
      const elapsed = Date.now() - started;
      test.expect(Object.keys(calls).filter((_, i) => settled[i]?.status !== 'rejected')).toEqual([]);
      test.expect(elapsed).toBeGreaterThanOrEqual(400);
      test.expect(elapsed).toBeLessThan(1500);
    } finally {
      process.kill(own.pid, 'SIGCONT');
      await ownConnection.close();
      await own.stop();
    }
  });
});
