/**
 * DurableBroker on one redis-server: at-least-once delivery over Redis Streams, with consumer
 * processes killed mid-callback, clients killed and the server restarted (AOF on).
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import {
  DurableBroker,
  type DurableMessage,
  defaultLogger,
  durableKeys,
  MessageBroker,
  RedisConnection,
  setLogger,
} from '..';
import { recordingLogger, sleep, startRedis, type TestServer, testRedis, uniquePrefix } from './helpers/redis';

const log = recordingLogger();
let server: TestServer;
let connection: RedisConnection;
const brokers: DurableBroker[] = [];

/** A broker on the shared test connection, closed after the test. */
function broker(options?: ConstructorParameters<typeof DurableBroker>[1], on = connection): DurableBroker {
  const made = new DurableBroker(on, options);
  brokers.push(made);
  return made;
}

/** Polls `check` until it holds, for at most `timeoutMs`; returns whether it did. */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

const cmd = (...args: string[]) => connection.getClient().sendCommand<unknown>(args);

/** XPENDING's summary count: messages delivered in the group and not acknowledged. */
async function pendingCount(channel: string, group: string): Promise<number> {
  const summary = (await cmd('XPENDING', durableKeys(channel).stream, group)) as unknown[];
  return Number(summary[0]);
}

beforeAll(async () => {
  setLogger(log.logger);
  server = await testRedis();
  connection = new RedisConnection({ url: server.url, commandTimeoutMs: 2000 });
  await connection.connect();
});

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

afterAll(async () => {
  await connection.close();
  setLogger(defaultLogger);
  await server.stop();
});

describe('DurableBroker: delivery', () => {
  it("hands each message to the callback once, in publish order, as the seed's envelope with deliveryCount and streamId", async () => {
    const channel = uniquePrefix('order');
    const b = broker({ group: 'g', maxInFlight: 1 });
    const seen: DurableMessage<{ n: number }>[] = [];
    await b.subscribe<{ n: number }>(channel, async (m) => {
      await sleep(Math.random() * 3);
      seen.push(m);
    });
    const ids: string[] = [];
    for (let n = 0; n < 50; n++) ids.push(await b.publish(channel, { type: 'post.created', data: { n } }));
    // Not awaited one by one: one pipeline per turn, still in call order.
    ids.push(
      ...(await Promise.all(
        Array.from({ length: 50 }, (_, k) => b.publish(channel, { type: 'post.created', data: { n: 50 + k } })),
      )),
    );
    expect(await until(() => seen.length === 100)).toBe(true);
    expect(seen.map((m) => m.data.n)).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(seen.map((m) => m.streamId)).toEqual(ids);
    const first = seen[0] as DurableMessage<{ n: number }>;
    expect(first.type).toBe('post.created');
    expect(first.timestamp).toBeInstanceOf(Date);
    expect(Math.abs(first.timestamp.getTime() - Date.now())).toBeLessThan(60_000);
    expect(first.messageId).toMatch(/^\d+-[0-9a-f]{16}-[0-9a-z]{4,}$/);
    expect(seen.every((m) => m.deliveryCount === 1)).toBe(true);
    expect(await until(() => b.stats().acknowledged === 100)).toBe(true);
    expect(await pendingCount(channel, 'g')).toBe(0);
    await sleep(300);
    expect(seen).toHaveLength(100);
  });

  it('work queue: brokers sharing a group get each message once between them; fan-out: each group gets every message', async () => {
    const channel = uniquePrefix('modes');
    const worker = (name: string, group: string | undefined, into: number[]) => {
      const b = broker(group === undefined ? { consumer: name } : { group, consumer: name });
      return b.subscribe<{ n: number }>(channel, (m) => {
        into.push(m.data.n);
      });
    };
    const queueA: number[] = [];
    const queueB: number[] = [];
    const indexer: number[] = [];
    const ownGroup: number[] = [];
    await worker('a', 'feed-workers', queueA);
    await worker('b', 'feed-workers', queueB);
    await worker('indexer-1', 'search-indexer', indexer);
    await worker('web-1', undefined, ownGroup);
    const publisher = broker();
    for (let n = 0; n < 200; n++) void publisher.publish(channel, { type: 't', data: { n } });
    const all = Array.from({ length: 200 }, (_, n) => n);
    expect(
      await until(() => queueA.length + queueB.length === 200 && indexer.length === 200 && ownGroup.length === 200),
    ).toBe(true);
    await sleep(300);
    expect([...queueA, ...queueB].sort((x, y) => x - y)).toEqual(all);
    expect(indexer).toEqual(all);
    expect(ownGroup).toEqual(all);
  });

  it('a failed callback leaves the message pending; it comes again past the visibility timeout with deliveryCount 2', async () => {
    const channel = uniquePrefix('retry');
    const b = broker({ group: 'g', visibilityTimeoutMs: 300 });
    const deliveries: Array<[number, number]> = [];
    await b.subscribe<{ n: number }>(channel, (m) => {
      deliveries.push([m.data.n, m.deliveryCount]);
      if (m.data.n === 1 && m.deliveryCount === 1) throw new Error('transient');
      if (m.data.n === 2 && m.deliveryCount === 1) return Promise.reject(new Error('transient async'));
      return undefined;
    });
    for (let n = 0; n < 4; n++) await b.publish(channel, { type: 't', data: { n } });
    expect(await until(() => deliveries.length === 6)).toBe(true);
    expect(deliveries.slice(0, 4)).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(deliveries.slice(4).sort()).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(await until(() => b.stats().acknowledged === 4)).toBe(true);
    expect(await pendingCount(channel, 'g')).toBe(0);
    expect(b.stats()).toMatchObject({ delivered: 6, redelivered: 2, failed: 2, deadLettered: 0 });
    expect(log.text()).toContain('Durable message handler error');
  });

  it('a poisoned message ends in the dead-letter stream after maxDeliveries tries while the others flow', async () => {
    const channel = uniquePrefix('poison');
    const b = broker({ group: 'g', visibilityTimeoutMs: 150, maxDeliveries: 3 });
    const good: number[] = [];
    let poisonTries = 0;
    await b.subscribe<{ n: number; poison?: boolean }>(channel, async (m) => {
      if (m.data.poison) {
        poisonTries += 1;
        throw new Error('cannot handle this one');
      }
      good.push(m.data.n);
    });
    const poisonId = await b.publish(channel, { type: 't', data: { n: -1, poison: true } });
    for (let n = 0; n < 20; n++) {
      await b.publish(channel, { type: 't', data: { n } });
      await sleep(20);
    }
    expect(await until(() => b.stats().deadLettered === 1)).toBe(true);
    expect(good).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(poisonTries).toBe(3);
    const dead = (await cmd('XRANGE', durableKeys(channel).deadLetter, '-', '+')) as Array<[string, string[]]>;
    expect(dead).toHaveLength(1);
    const fields = new Map<string, string>();
    const flat = (dead[0] as [string, string[]])[1];
    for (let i = 0; i < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
    expect(JSON.parse(fields.get('m') as string).data).toEqual({ n: -1, poison: true });
    expect(fields.get('source')).toBe(poisonId);
    expect(fields.get('group')).toBe('g');
    expect(fields.get('deliveries')).toBe('3');
    expect(fields.get('reason')).toContain('cannot handle this one');
    expect(await pendingCount(channel, 'g')).toBe(0);
    await sleep(400);
    expect(poisonTries).toBe(3);
    const reported = log.lines.find(
      (l) => l.message === 'Durable message dead-lettered' && l.meta?.channel === channel,
    );
    expect(reported?.level).toBe('error');
    expect(reported?.meta).toMatchObject({ streamId: poisonId, deadLetter: durableKeys(channel).deadLetter });
  });

  it('replays from a stream id and from a Date (inclusive), and seek() moves an existing group', async () => {
    const channel = uniquePrefix('replay');
    const publisher = broker();
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) ids.push(await publisher.publish(channel, { type: 't', data: { n } }));
    await sleep(20);
    const since = new Date();
    await sleep(5);
    for (let n = 10; n < 15; n++) ids.push(await publisher.publish(channel, { type: 't', data: { n } }));

    const collect = async (options: ConstructorParameters<typeof DurableBroker>[1], expected: number) => {
      const got: number[] = [];
      await broker(options).subscribe<{ n: number }>(channel, (m) => {
        got.push(m.data.n);
      });
      await until(() => got.length >= expected, 5000);
      await sleep(100);
      return got;
    };
    expect(await collect({ group: 'from-id', from: ids[4] }, 11)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(await collect({ group: 'from-date', from: since }, 5)).toEqual([10, 11, 12, 13, 14]);
    expect(await collect({ group: 'earliest', from: 'earliest' }, 15)).toHaveLength(15);
    expect(await collect({ group: 'latest' }, 0)).toEqual([]);

    const again: number[] = [];
    const b = broker({ group: 'from-id' });
    await b.subscribe<{ n: number }>(channel, (m) => {
      again.push(m.data.n);
    });
    await sleep(100);
    expect(again).toEqual([]); // the group exists: it keeps its place
    await b.seek(channel, ids[12] as string);
    expect(await until(() => again.length === 3)).toBe(true);
    expect(again).toEqual([12, 13, 14]);
  });

  it('backpressure: messages in flight never exceed maxInFlight with a slow callback, and Redis holds the rest', async () => {
    const channel = uniquePrefix('slow');
    const b = broker({ group: 'g', maxInFlight: 4 });
    let running = 0;
    let peak = 0;
    let peakStats = 0;
    const done: number[] = [];
    await b.subscribe<{ n: number }>(channel, async (m) => {
      running += 1;
      peak = Math.max(peak, running);
      peakStats = Math.max(peakStats, b.stats().inFlight);
      await sleep(30);
      running -= 1;
      done.push(m.data.n);
    });
    const publisher = broker();
    await Promise.all(Array.from({ length: 60 }, (_, n) => publisher.publish(channel, { type: 't', data: { n } })));
    await sleep(100);
    // Only what is in flight was read: the rest waits in the stream, unread by the group.
    expect(await pendingCount(channel, 'g')).toBeLessThanOrEqual(4);
    expect(await until(() => done.length === 60, 20_000)).toBe(true);
    expect(peak).toBe(4);
    expect(peakStats).toBe(4);
    expect(done).toEqual(Array.from({ length: 60 }, (_, n) => n));
  });

  it('retention: publish trims the stream to about maxLen entries', async () => {
    const channel = uniquePrefix('trim');
    const b = broker({ maxLen: 100 });
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, n) => b.publish(channel, { type: 't', data: { n } })));
    }
    const length = Number(await cmd('XLEN', durableKeys(channel).stream));
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(400);
  });

  it('close() waits for callbacks in flight, acknowledges them, and removes its own group', async () => {
    const channel = uniquePrefix('close');
    const b = new DurableBroker(connection);
    let finished = false;
    let started = false;
    await b.subscribe(channel, async () => {
      started = true;
      await sleep(200);
      finished = true;
    });
    await b.publish(channel, { type: 't', data: 1 });
    expect(await until(() => started)).toBe(true);
    await b.close();
    expect(finished).toBe(true);
    expect(b.stats().acknowledged).toBe(1);
    const groups = (await cmd('XINFO', 'GROUPS', durableKeys(channel).stream)) as unknown[];
    expect(groups).toEqual([]);
    await expect(b.subscribe(channel, () => undefined)).rejects.toThrow('closed');
  });

  it('plain pub/sub on the same connection is untouched', async () => {
    const channel = uniquePrefix('plain');
    const plain = new MessageBroker(connection);
    const got: unknown[] = [];
    const handler = (m: { data: unknown }) => {
      got.push(m.data);
    };
    await plain.subscribe(channel, handler);
    const durable = broker({ group: 'g' });
    const durableGot: unknown[] = [];
    await durable.subscribe(channel, (m) => {
      durableGot.push(m.data);
    });
    await plain.publish(channel, { type: 't', data: 'plain' });
    await durable.publish(channel, { type: 't', data: 'durable' });
    expect(await until(() => got.length === 1 && durableGot.length === 1)).toBe(true);
    expect(got).toEqual(['plain']);
    expect(durableGot).toEqual(['durable']);
    await plain.unsubscribe(channel, handler);
  });
});

describe('DurableBroker: arguments', () => {
  it('bad options are a TypeError or RangeError naming the option', () => {
    expect(() => new DurableBroker(connection, { maxInFlight: 0 })).toThrow(/options\.maxInFlight/);
    expect(() => new DurableBroker(connection, { maxInFlight: 0 })).toThrow(RangeError);
    expect(() => new DurableBroker(connection, { visibilityTimeoutMs: 1.5 })).toThrow(/options\.visibilityTimeoutMs/);
    expect(() => new DurableBroker(connection, { group: '' })).toThrow(/options\.group/);
    expect(() => new DurableBroker(connection, { from: 'yesterday' })).toThrow(/options\.from/);
    expect(() => new DurableBroker(connection, { from: new Date(Number.NaN) })).toThrow(/options\.from/);
    expect(() => new DurableBroker(connection, { maxLen: 10, maxAgeMs: 1000 })).toThrow(/maxLen and options\.maxAgeMs/);
    expect(() => new DurableBroker(connection, 'fast' as never)).toThrow(TypeError);
  });

  it('rejects bad channels and callbacks, psubscribe, and calls before connect()', async () => {
    const b = broker();
    await expect(b.subscribe('', () => undefined)).rejects.toThrow(TypeError);
    await expect(b.subscribe('}x', () => undefined)).rejects.toThrow(/channel/);
    await expect(b.subscribe('c', 'nope' as never)).rejects.toThrow(/callback/);
    await expect(b.publish('c', { data: 1 } as never)).rejects.toThrow(/message\.type/);
    await expect(b.psubscribe('c:*', () => undefined)).rejects.toThrow(TypeError);
    const idle = new DurableBroker(new RedisConnection({ url: server.url }));
    await expect(idle.publish('c', { type: 't', data: 1 })).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
    await expect(idle.subscribe('c', () => undefined)).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
  });
});

describe('DurableBroker: faults', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('kill -9 of a consumer process mid-callback: the message goes to another consumer past the visibility timeout, acknowledged once', async () => {
    const channel = uniquePrefix('kill9');
    const events: Array<Record<string, unknown>> = [];
    const child = fork(path.join(__dirname, 'fixtures', 'durable-consumer.js'), [], {
      env: {
        ...process.env,
        REDIS_URL: server.url,
        CHANNEL: channel,
        GROUP: 'workers',
        CONSUMER: 'doomed',
        VISIBILITY_MS: '500',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    child.on('message', (event) => events.push(event as Record<string, unknown>));
    expect(await until(() => events.some((e) => e.ready || e.failed), 20_000)).toBe(true);
    expect(events.find((e) => e.failed)).toBeUndefined();

    const publisher = broker();
    const id = await publisher.publish(channel, { type: 'job', data: { job: 42 } });
    expect(await until(() => events.some((e) => e.got === id))).toBe(true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(await pendingCount(channel, 'workers')).toBe(1);

    const survivor = broker({ group: 'workers', consumer: 'survivor', visibilityTimeoutMs: 500 });
    const got: DurableMessage[] = [];
    await survivor.subscribe(channel, async (m) => {
      got.push(m);
    });
    expect(await until(() => got.length === 1)).toBe(true);
    const redelivered = got[0] as DurableMessage;
    expect(redelivered.streamId).toBe(id);
    expect(redelivered.data).toEqual({ job: 42 });
    expect(redelivered.deliveryCount).toBe(2);
    expect(await until(() => survivor.stats().acknowledged === 1)).toBe(true);
    expect(await pendingCount(channel, 'workers')).toBe(0);
    await sleep(1200);
    expect(got).toHaveLength(1);
  }, 60_000);

  it('CLIENT KILL of every socket loses no acknowledged publish', async () => {
    const channel = uniquePrefix('clientkill');
    const b = broker({ group: 'g', pollIntervalMs: 200 });
    const delivered = new Set<number>();
    await b.subscribe<{ n: number }>(channel, (m) => {
      delivered.add(m.data.n);
    });
    const acknowledged: number[] = [];
    let failures = 0;
    let n = 0;
    const deadline = Date.now() + 3000;
    const killer = (async () => {
      while (Date.now() < deadline) {
        await sleep(300);
        server.cli('CLIENT', 'KILL', 'TYPE', 'normal');
        server.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
      }
    })();
    while (Date.now() < deadline) {
      const batch = Array.from({ length: 10 }, () => n++);
      const results = await Promise.allSettled(batch.map((k) => b.publish(channel, { type: 't', data: { n: k } })));
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') acknowledged.push(batch[i] as number);
        else failures += 1;
      });
      if (results.some((r) => r.status === 'rejected')) await sleep(50);
    }
    await killer;
    expect(acknowledged.length).toBeGreaterThan(100);
    const missing = () => acknowledged.filter((k) => !delivered.has(k));
    expect(await until(() => missing().length === 0, 20_000)).toBe(true);
    expect(missing()).toEqual([]);
    // The kills landed: publishes failed while the sockets were down.
    expect(failures).toBeGreaterThan(0);
  }, 60_000);

  it('a server restart with AOF (appendfsync always) loses no acknowledged publish', async () => {
    const aof = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    const conn = new RedisConnection({ url: aof.url, commandTimeoutMs: 1000 });
    await conn.connect();
    try {
      const channel = uniquePrefix('restart');
      const b = broker({ group: 'g', pollIntervalMs: 200, visibilityTimeoutMs: 1000 }, conn);
      const delivered = new Set<number>();
      await b.subscribe<{ n: number }>(channel, (m) => {
        delivered.add(m.data.n);
      });
      const acknowledged: number[] = [];
      let n = 0;
      let restarted = false;
      const publishing = (async () => {
        const deadline = Date.now() + 4000;
        while (Date.now() < deadline || !restarted) {
          const k = n++;
          try {
            await b.publish(channel, { type: 't', data: { n: k } });
            acknowledged.push(k);
          } catch {
            await sleep(50);
          }
        }
      })();
      await sleep(800);
      await aof.kill();
      await sleep(300);
      await aof.restart();
      restarted = true;
      await publishing;
      expect(acknowledged.length).toBeGreaterThan(50);
      const missing = () => acknowledged.filter((k) => !delivered.has(k));
      expect(await until(() => missing().length === 0, 20_000)).toBe(true);
      expect(missing()).toEqual([]);
    } finally {
      await Promise.all(brokers.splice(0).map((b) => b.close()));
      await conn.close();
      await aof.stop();
    }
  }, 60_000);

  it('a Redis error while reading is logged and retried, never thrown', async () => {
    const channel = uniquePrefix('nogroup');
    const b = broker({ group: 'g', pollIntervalMs: 100 });
    const got: number[] = [];
    await b.subscribe<{ n: number }>(channel, (m) => {
      got.push(m.data.n);
    });
    await b.publish(channel, { type: 't', data: { n: 1 } });
    expect(await until(() => got.length === 1)).toBe(true);
    // The stream and its group vanish (an operator's DEL): the broker recreates them.
    await cmd('DEL', durableKeys(channel).stream);
    await b.publish(channel, { type: 't', data: { n: 2 } });
    expect(await until(() => got.length === 2)).toBe(true);
    expect(got).toEqual([1, 2]);
    expect(log.text()).toContain('Durable consumer group missing');
  });
});
