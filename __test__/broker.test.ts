import { spawn } from 'node:child_process';
import path from 'node:path';
import { type Message, MessageBroker, RedisConnection, setLogger, defaultLogger } from '..';
import {
  recordingLogger,
  sleep,
  startRedis,
  testRedis,
  type TestServer,
  uniquePrefix,
  waitUntil,
} from './helpers/redis';

const log = recordingLogger();
const p = uniquePrefix('broker');
const ROOT = path.resolve(__dirname, '..');

const numsub = (server: TestServer, channel: string) =>
  Number(server.cli('PUBSUB', 'NUMSUB', channel).split('\n').pop());
const numpat = (server: TestServer) => Number(server.cli('PUBSUB', 'NUMPAT'));
const seedJson = (type: string, data: unknown) =>
  JSON.stringify({ type, data, timestamp: new Date('2024-05-06T07:08:09.010Z'), messageId: `1714979289010-${type}` });

beforeAll(() => setLogger(log.logger));
afterAll(() => setLogger(defaultLogger));

describe('MessageBroker against a shared server', () => {
  let server: TestServer;
  let connection: RedisConnection;
  let broker: MessageBroker;

  beforeAll(async () => {
    server = await testRedis();
    connection = new RedisConnection({ url: server.url });
    await connection.connect();
    broker = new MessageBroker(connection);
  });

  afterAll(async () => {
    await connection.close();
    await server.stop();
  });

  it('delivers a seed-format message published by plain redis-cli, with timestamp as a Date', async () => {
    const channel = `${p}interop`;
    const received: Message<{ postId: string }>[] = [];
    await broker.subscribe<{ postId: string }>(channel, (message) => {
      received.push(message);
    });
    expect(server.cli('PUBLISH', channel, seedJson('post.created', { postId: 'p1' }))).toBe('1');
    await waitUntil(() => received.length === 1, 'the message');
    expect(received[0]).toEqual({
      type: 'post.created',
      data: { postId: 'p1' },
      timestamp: new Date('2024-05-06T07:08:09.010Z'),
      messageId: '1714979289010-post.created',
    });
    expect(received[0].timestamp).toBeInstanceOf(Date);
  });

  it('publishes the seed wire format (JSON with ISO timestamp and messageId) that a plain subscriber reads', async () => {
    const channel = `${p}wire`;
    const cli = spawn('redis-cli', ['-p', String(server.port), 'SUBSCRIBE', channel]);
    let output = '';
    cli.stdout.on('data', (chunk) => (output += chunk));
    try {
      await waitUntil(() => numsub(server, channel) === 1, 'redis-cli to subscribe');
      const before = Date.now();
      expect(await broker.publish(channel, { type: 'like', data: { postId: 'p2', n: 3 } })).toBe(1);
      await waitUntil(() => output.includes('"like"'), 'redis-cli to print the message');
      const wire = JSON.parse(output.trim().split('\n').pop()!);
      expect(Object.keys(wire)).toEqual(['type', 'data', 'timestamp', 'messageId']);
      expect(wire.data).toEqual({ postId: 'p2', n: 3 });
      expect(wire.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(wire.timestamp)).toBeGreaterThanOrEqual(before - 1);
      expect(wire.messageId).toMatch(/^\d{13}-[0-9a-f]{16}-[0-9a-z]{4,}$/);
    } finally {
      cli.kill();
    }
  });

  it('writes exactly JSON.stringify({ ...message, timestamp, messageId }) for awkward messages too', async () => {
    const channel = `${p}exact`;
    class WithToJson {
      type = 'classy';
      hidden = 'not sent';
      toJSON() {
        return { type: this.type };
      }
    }
    const messages: Array<Record<string, unknown>> = [
      { type: 'plain', data: { when: new Date(0), list: [1, undefined] } },
      { type: 'undefined-data', data: undefined },
      { data: { a: 1 }, type: 'data-first', extra: 'x' },
      new WithToJson() as unknown as Record<string, unknown>,
      Object.assign(Object.create({ inherited: 1 }), { type: 'prototype' }),
    ];
    const cli = spawn('redis-cli', ['-p', String(server.port), '--raw', 'SUBSCRIBE', channel]);
    let output = '';
    cli.stdout.on('data', (chunk) => (output += chunk));
    try {
      await waitUntil(() => numsub(server, channel) === 1, 'redis-cli to subscribe');
      for (const message of messages) await broker.publish(channel, message as never);
      await waitUntil(
        () => output.split('\n').filter((line) => line.startsWith('{')).length === messages.length,
        'every message',
      );
      const wires = output.split('\n').filter((line) => line.startsWith('{'));
      wires.forEach((wire, i) => {
        const { timestamp, messageId } = JSON.parse(wire);
        expect(wire).toBe(JSON.stringify({ ...messages[i], timestamp: new Date(timestamp), messageId }));
      });
    } finally {
      cli.kill();
    }
  });

  it('fans one Redis subscription out to every callback, and publish resolves to the receiver count', async () => {
    const channel = `${p}fanout`;
    expect(await broker.publish(channel, { type: 'nobody', data: null })).toBe(0);
    const first: string[] = [];
    const second: string[] = [];
    await broker.subscribe(channel, (m) => {
      first.push(m.type);
    });
    await broker.subscribe(channel, (m) => {
      second.push(m.type);
    });
    expect(numsub(server, channel)).toBe(1);
    expect(await broker.publish(channel, { type: 'post.notification', data: { postId: 'p3' } })).toBe(1);
    await waitUntil(() => first.length === 1 && second.length === 1, 'both callbacks');
    expect(first).toEqual(['post.notification']);
    expect(second).toEqual(['post.notification']);
  });

  it('gives each delivered message a Date of its own, read from its own timestamp, in a burst too', async () => {
    const channel = `${p}stamps`;
    const received: Message[] = [];
    await broker.subscribe(channel, (m) => {
      received.push(m);
    });
    const stamps = ['2024-05-06T07:08:09.010Z', '2024-05-06T07:08:09.010Z', '2024-05-06T07:08:09.011Z', 'not a date'];
    const raw = new (await import('ioredis')).default(server.url);
    try {
      const burst = raw.pipeline();
      for (const [i, timestamp] of [...stamps, stamps[0]].entries()) {
        burst.publish(channel, JSON.stringify({ type: 't', data: i, timestamp, messageId: `m${i}` }));
      }
      await burst.exec();
    } finally {
      raw.disconnect();
    }
    await waitUntil(() => received.length === 5, 'the burst');
    expect(received.map((m) => m.timestamp.getTime())).toEqual([
      Date.parse(stamps[0] as string),
      Date.parse(stamps[0] as string),
      Date.parse(stamps[2] as string),
      Number.NaN,
      Date.parse(stamps[0] as string),
    ]);
    // Changing one message's Date leaves the others alone.
    received[0]?.timestamp.setTime(0);
    expect(received[1]?.timestamp.getTime()).toBe(Date.parse(stamps[0] as string));

    const before = Date.now();
    await Promise.all(Array.from({ length: 2000 }, (_, i) => broker.publish(channel, { type: 'n', data: i })));
    await waitUntil(() => received.length === 2005, 'the published burst');
    const times = received.slice(5).map((m) => m.timestamp.getTime());
    expect(times.every((t, i) => t >= before && t <= Date.now() && (i === 0 || t >= (times[i - 1] as number)))).toBe(
      true,
    );
  });

  it('runs callbacks in publish order over 10 000 messages, with unique time-ordered messageIds', async () => {
    const channel = `${p}order`;
    const received: Message<number>[] = [];
    await broker.subscribe<number>(channel, (m) => {
      received.push(m);
    });
    const published = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => broker.publish(channel, { type: 'n', data: i })),
    );
    expect(published.every((n) => n === 1)).toBe(true);
    await waitUntil(() => received.length === 10_000, '10 000 messages');
    expect(received.map((m) => m.data)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    const ids = received.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(10_000);
    expect([...ids].sort()).toEqual(ids);
  });

  it('isolates callbacks that throw or reject: the others still run and nothing is unhandled', async () => {
    const channel = `${p}isolate`;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const received: number[] = [];
      await broker.subscribe<number>(channel, () => {
        throw new Error('sync handler failure');
      });
      await broker.subscribe<number>(channel, async () => {
        throw new Error('async handler failure');
      });
      await broker.subscribe<number>(channel, (m) => {
        received.push(m.data);
      });
      for (let i = 0; i < 3; i++) await broker.publish(channel, { type: 'n', data: i });
      await waitUntil(() => received.length === 3, 'the healthy callback');
      await sleep(50); // lets a missed rejection reach 'unhandledRejection'
      expect(received).toEqual([0, 1, 2]);
      const errors = log.lines.filter((l) => l.message === 'Message handler error' && l.meta?.channel === channel);
      expect(errors.map((l) => l.meta?.message).sort()).toEqual([
        ...Array(3).fill('async handler failure'),
        ...Array(3).fill('sync handler failure'),
      ]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('logs and skips a message that is not JSON, or JSON that is not an object', async () => {
    const channel = `${p}badjson`;
    const received: string[] = [];
    await broker.subscribe(channel, (m) => {
      received.push(m.type);
    });
    server.cli('PUBLISH', channel, '{not json');
    server.cli('PUBLISH', channel, '42');
    server.cli('PUBLISH', channel, seedJson('after', 1));
    await waitUntil(() => received.length === 1, 'the valid message');
    expect(received).toEqual(['after']);
    expect(
      log.lines.filter(
        (l) => l.level === 'error' && l.message === 'Message parsing error' && l.meta?.channel === channel,
      ),
    ).toHaveLength(2);
  });

  it('unsubscribes in Redis only when the last callback goes', async () => {
    const channel = `${p}unsub`;
    const a = () => undefined;
    const b = () => undefined;
    await broker.subscribe(channel, a);
    await broker.subscribe(channel, b);
    await broker.unsubscribe(channel, a);
    expect(numsub(server, channel)).toBe(1);
    await broker.unsubscribe(channel, b);
    expect(numsub(server, channel)).toBe(0);
    expect(await broker.publish(channel, { type: 'gone', data: null })).toBe(0);
  });

  it('psubscribe delivers matching channels with their name; punsubscribe ends the pattern', async () => {
    const pattern = `${p}post:*`;
    const got: Array<[string, string]> = [];
    const handler = (m: Message, channel: string) => {
      got.push([m.type, channel]);
    };
    const before = numpat(server);
    await broker.psubscribe(pattern, handler);
    expect(numpat(server)).toBe(before + 1);
    expect(await broker.publish(`${p}post:1`, { type: 'a', data: null })).toBe(1);
    expect(await broker.publish(`${p}user:1`, { type: 'b', data: null })).toBe(0);
    expect(await broker.publish(`${p}post:2`, { type: 'c', data: null })).toBe(1);
    await waitUntil(() => got.length === 2, 'pattern messages');
    expect(got).toEqual([
      ['a', `${p}post:1`],
      ['c', `${p}post:2`],
    ]);
    await broker.punsubscribe(pattern, handler);
    expect(numpat(server)).toBe(before);
  });

  it('rejects bad arguments with errors naming them, never throwing synchronously', async () => {
    const bad = broker as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await expect(bad.subscribe(42, () => undefined)).rejects.toThrow(
      new TypeError('channel must be a string, got number'),
    );
    await expect(bad.subscribe('c', 'nope')).rejects.toThrow(new TypeError('callback must be a function, got string'));
    await expect(bad.psubscribe(null, () => undefined)).rejects.toThrow(
      new TypeError('pattern must be a string, got null'),
    );
    await expect(bad.publish('c', null)).rejects.toThrow(new TypeError('message must be an object, got null'));
    await expect(bad.publish('c', { data: 1 })).rejects.toThrow(
      new TypeError('message.type must be a string, got undefined'),
    );
    await expect(bad.publish('c', { type: 't', data: 10n })).rejects.toThrow(TypeError);
    expect(() => new MessageBroker(connection, { maxQueuedMessages: 0 })).toThrow(
      new TypeError('options.maxQueuedMessages must be a positive integer, got 0'),
    );
  });

  it('rejects before connect(), and close() ends the subscriber socket and its subscriptions', async () => {
    const other = new RedisConnection({ url: server.url });
    const local = new MessageBroker(other);
    const channel = `${p}close`;
    await expect(local.subscribe(channel, () => undefined)).rejects.toThrow('Redis not connected');
    await other.connect();
    await local.subscribe(channel, () => undefined);
    expect(numsub(server, channel)).toBe(1);
    await other.close();
    await waitUntil(() => numsub(server, channel) === 0, 'the subscriber socket to close');
    await expect(local.publish(channel, { type: 't', data: null })).rejects.toThrow('Redis not connected');
    await other.connect();
    const received: string[] = [];
    await local.subscribe(channel, (m) => {
      received.push(m.type);
    });
    expect(await local.publish(channel, { type: 'again', data: null })).toBe(1);
    await waitUntil(() => received.length === 1, 'a message after reconnecting');
    await other.close();
  });
});

describe("the connection's subscriber socket", () => {
  let server: TestServer;
  let connection: RedisConnection;
  const clients = () => Number(server.cli('INFO', 'clients').match(/connected_clients:(\d+)/)![1]);

  beforeAll(async () => {
    server = await startRedis();
  });

  beforeEach(async () => {
    connection = new RedisConnection({ url: server.url });
  });

  afterEach(async () => {
    await connection.close();
  });

  afterAll(() => server.stop());

  it('is the socket every broker of the connection subscribes on: three sockets in all, as the seed', async () => {
    const before = clients();
    await connection.connect();
    const brokers = [new MessageBroker(connection), new MessageBroker(connection), new MessageBroker(connection)];
    const got: string[][] = brokers.map(() => []);
    await Promise.all(brokers.map((b, i) => b.subscribe(`${p}shared${i}`, (m) => void got[i].push(m.type))));
    await brokers[0].psubscribe(`${p}sharedpat:*`, (m) => void got[0].push(m.type));
    expect(clients() - before).toBe(3);
    expect(server.cli('CLIENT', 'LIST', 'TYPE', 'pubsub').trim().split('\n')).toHaveLength(1);
    for (let i = 0; i < brokers.length; i++)
      expect(await brokers[i].publish(`${p}shared${i}`, { type: `m${i}`, data: null })).toBe(1);
    await waitUntil(() => got.every((list) => list.length === 1), 'one message per broker');
    expect(got).toEqual([['m0'], ['m1'], ['m2']]);
  });

  it('close() says which subscriptions it ended, and says nothing when there were none', async () => {
    await connection.connect();
    const broker = new MessageBroker(connection);
    await broker.subscribe(`${p}ending1`, () => undefined);
    await broker.subscribe(`${p}ending2`, () => undefined);
    await broker.psubscribe(`${p}ending:*`, () => undefined);
    const from = log.lines.length;
    await connection.close();
    expect(log.lines.slice(from).filter((l) => l.message === 'Subscriptions ended by close()')).toEqual([
      { level: 'info', message: 'Subscriptions ended by close()', meta: { role: 'broker', channels: 2, patterns: 1 } },
    ]);

    connection = new RedisConnection({ url: server.url });
    await connection.connect();
    const quiet = log.lines.length;
    await connection.close();
    expect(log.lines.slice(quiet).some((l) => l.message === 'Subscriptions ended by close()')).toBe(false);
  });

  it('getSubscriber() subscribes: listeners get the text and the channel, pSubscribe too', async () => {
    await connection.connect();
    const subscriber = connection.getSubscriber();
    const got: Array<[string, string]> = [];
    const listener = (message: string, channel: string) => void got.push([message, channel]);
    await subscriber.subscribe(`${p}raw`, listener);
    await subscriber.pSubscribe(`${p}rawpat:*`, listener);
    expect(server.cli('PUBLISH', `${p}raw`, 'plain text')).toBe('1');
    expect(server.cli('PUBLISH', `${p}rawpat:7`, '{"not":"a broker message"}')).toBe('1');
    await waitUntil(() => got.length === 2, 'both messages');
    expect(got).toEqual([
      ['plain text', `${p}raw`],
      ['{"not":"a broker message"}', `${p}rawpat:7`],
    ]);
    await subscriber.unsubscribe(`${p}raw`, listener);
    await subscriber.pUnsubscribe(`${p}rawpat:*`);
    expect(numsub(server, `${p}raw`)).toBe(0);
    expect(numpat(server)).toBe(0);
    await expect(subscriber.subscribe(`${p}raw`, 'nope' as unknown as () => void)).rejects.toThrow(
      new TypeError('listener must be a function, got string'),
    );
  });

  it('keeps one Redis subscription per channel shared by a broker and a listener: it ends with the last of them', async () => {
    await connection.connect();
    const channel = `${p}both`;
    const broker = new MessageBroker(connection);
    const raw: string[] = [];
    const typed: string[] = [];
    const listener = (message: string) => void raw.push(message);
    const handler = (m: Message) => void typed.push(m.type);
    await connection.getSubscriber().subscribe(channel, listener);
    await broker.subscribe(channel, handler);
    expect(numsub(server, channel)).toBe(1);
    await connection.getSubscriber().unsubscribe(channel, listener);
    expect(numsub(server, channel)).toBe(1);
    expect(await broker.publish(channel, { type: 'still', data: null })).toBe(1);
    await waitUntil(() => typed.length === 1, 'the broker message');
    expect(raw).toEqual([]);
    await broker.unsubscribe(channel, handler);
    expect(numsub(server, channel)).toBe(0);
  });
});

describe('MessageBroker backpressure', () => {
  let server: TestServer;
  let connection: RedisConnection;
  const blocker = new Int32Array(new SharedArrayBuffer(4));
  const burst = (channel: string, count: number) =>
    server.cli(
      'EVAL',
      `for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', KEYS[1], '{"type":"n","data":' .. i .. '}') end`,
      '1',
      channel,
      String(count),
    );

  beforeAll(async () => {
    server = await testRedis();
    connection = new RedisConnection({ url: server.url });
    await connection.connect();
  });

  afterAll(async () => {
    await connection.close();
    await server.stop();
  });

  // The first callback blocks the JS thread until the whole burst waits in the
  // native queue, which is what a slow callback does to a fast publisher.
  async function blockedBurst(broker: MessageBroker, channel: string, count: number): Promise<number[]> {
    const seen: number[] = [];
    await broker.subscribe<number>(channel, (m) => {
      seen.push(m.data);
      if (m.data !== 0) return;
      burst(channel, count);
      while (broker.backlog < count) Atomics.wait(blocker, 0, 0, 5);
    });
    server.cli('PUBLISH', channel, '{"type":"n","data":0}');
    return seen;
  }

  it('keeps a burst of 100 000 messages to a slow callback complete and in order within the default bound', async () => {
    const broker = new MessageBroker(connection);
    const seen = await blockedBurst(broker, `${p}burst`, 100_000);
    await waitUntil(() => seen.length === 100_001, '100 001 messages', 50_000);
    expect(seen.every((value, i) => value === i)).toBe(true);
    expect(log.lines.some((l) => l.message.startsWith('Pub/sub messages dropped'))).toBe(false);
  }, 60_000);

  it('past the bound drops the oldest messages, keeps the rest in order and logs the loss once', async () => {
    const broker = new MessageBroker(connection, { maxQueuedMessages: 1000 });
    const seen = await blockedBurst(broker, `${p}bounded`, 5000);
    await waitUntil(() => seen.length === 1001, 'the newest 1000 messages');
    expect(seen).toEqual([0, ...Array.from({ length: 1000 }, (_, i) => 4001 + i)]);
    const drops = log.lines.filter((l) => l.message.startsWith('Pub/sub messages dropped'));
    expect(drops).toHaveLength(1);
    expect(drops[0].meta).toEqual({ dropped: 4000, maxQueuedMessages: 1000, maxQueuedBytes: 64 * 1024 * 1024 });
  });
});

describe('MessageBroker after connection faults', () => {
  let server: TestServer;
  let connection: RedisConnection;
  let broker: MessageBroker;

  beforeAll(async () => {
    server = await startRedis();
    connection = new RedisConnection({ url: server.url });
    await connection.connect();
    broker = new MessageBroker(connection);
  });

  afterAll(async () => {
    await connection.close();
    await server.stop();
  });

  it('restores channel and pattern subscriptions after CLIENT KILL TYPE pubsub', async () => {
    const channel = `${p}killed`;
    const pattern = `${p}killed:*`;
    const got: string[] = [];
    await broker.subscribe(channel, (m) => {
      got.push(m.type);
    });
    await broker.psubscribe(pattern, (m) => {
      got.push(m.type);
    });
    const killed = Number(server.cli('CLIENT', 'KILL', 'TYPE', 'pubsub'));
    expect(killed).toBeGreaterThanOrEqual(1);
    await waitUntil(() => numsub(server, channel) === 1 && numpat(server) === 1, 'resubscription');
    server.cli('PUBLISH', channel, seedJson('direct', 1));
    server.cli('PUBLISH', `${p}killed:x`, seedJson('pattern', 2));
    await waitUntil(() => got.length === 2, 'messages after resubscription');
    expect(got).toEqual(['direct', 'pattern']);
  });

  it('restores subscriptions after a server restart, including one made while Redis was down', async () => {
    const channel = `${p}restart`;
    const later = `${p}restart-later`;
    const got: string[] = [];
    await broker.subscribe(channel, (m) => {
      got.push(m.type);
    });
    await server.kill();
    await broker.subscribe(later, (m) => {
      got.push(m.type);
    });
    await server.restart();
    await waitUntil(() => numsub(server, channel) === 1 && numsub(server, later) === 1, 'resubscription after restart');
    server.cli('PUBLISH', channel, seedJson('first', 1));
    server.cli('PUBLISH', later, seedJson('second', 2));
    await waitUntil(() => got.length === 2, 'messages after restart');
    expect(got).toEqual(['first', 'second']);
    expect(log.lines.some((l) => l.message.includes('restored') && l.meta?.role === 'broker')).toBe(true);
  });
});

describe('MessageBroker and process lifetime', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await testRedis();
  });

  afterAll(async () => {
    await server.stop();
  });

  function child(mode: 'close' | 'unsubscribe' | 'listen', channel: string) {
    const script = `
      const { RedisConnection, MessageBroker } = require(${JSON.stringify(ROOT)});
      (async () => {
        const connection = new RedisConnection({ url: ${JSON.stringify(server.url)} });
        await connection.connect();
        const broker = new MessageBroker(connection);
        const handler = (m) => console.log('received ' + m.type);
        await broker.subscribe(${JSON.stringify(channel)}, handler);
        console.log('subscribed');
        if (${JSON.stringify(mode)} === 'close') await connection.close();
        if (${JSON.stringify(mode)} === 'unsubscribe') await broker.unsubscribe(${JSON.stringify(channel)}, handler);
      })().catch((error) => { console.error(error); process.exit(2); });`;
    const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    proc.stdout.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    return { proc, exited, output: () => output };
  }

  async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still running'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'still running'>((resolve) => (timer = setTimeout(resolve, ms, 'still running')));
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  it.each(['close', 'unsubscribe'] as const)('lets the process exit on its own after %s', async (mode) => {
    const run = child(mode, `${p}exit-${mode}`);
    const outcome = await within(run.exited, 20_000);
    if (outcome === 'still running') run.proc.kill('SIGKILL');
    expect(run.output()).toContain('subscribed');
    expect(outcome).toBe(0);
  });

  it('keeps a listen-only process alive while it has a subscription', async () => {
    const channel = `${p}listen`;
    const run = child('listen', channel);
    try {
      await waitUntil(() => run.output().includes('subscribed'), 'the child to subscribe');
      expect(await within(run.exited, 500)).toBe('still running');
      server.cli('PUBLISH', channel, seedJson('ping', null));
      await waitUntil(() => run.output().includes('received ping'), 'the child to receive');
    } finally {
      run.proc.kill('SIGKILL');
      await run.exited;
    }
  });
});
