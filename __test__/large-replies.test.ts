import { CacheService, MessageBroker, RedisConnection, RedisLayerError, setLogger, defaultLogger } from '..';
import type { Message } from '..';
import { recordingLogger, sleep, startRedis, type TestServer, uniquePrefix, waitUntil } from './helpers/redis';

// V8 holds at most (1 << 29) - 24 UTF-16 units in one string. A reply longer than that
// must fail its own call only; everything around it carries on.
const MAX_STRING = 2 ** 29 - 24;
const TOO_LONG = MAX_STRING + 13; // still under redis' default 512 MiB bulk limit

const log = recordingLogger();
const p = uniquePrefix('large');
let server: TestServer;
let connection: RedisConnection;

/** Stores `count` repetitions of `unit` between `before` and `after`, built inside redis by doubling. */
function fill(key: string, unit: string, count: number, before = '', after = ''): void {
  const script = `local s, want = ARGV[1], #ARGV[1] * tonumber(ARGV[2])
    while #s * 2 <= want do s = s .. s end
    redis.call('SET', KEYS[1], ARGV[3] .. s .. string.sub(s, 1, want - #s) .. ARGV[4])`;
  server.cli('EVAL', script, '1', key, unit, String(count), before, after);
}

beforeAll(async () => {
  setLogger(log.logger);
  server = await startRedis({ extraArgs: ['--client-output-buffer-limit', 'pubsub 0 0 0'] });
  connection = new RedisConnection({ url: server.url, commandTimeoutMs: 60_000 });
  await connection.connect();
  server.cli('SETRANGE', `${p}big`, String(TOO_LONG - 1), 'x');
  server.cli('SET', `${p}small`, '"one"');
  server.cli('SET', `${p}small2`, '"two"');
}, 60_000);

afterAll(async () => {
  setLogger(defaultLogger);
  await connection?.close();
  await server?.stop();
});

describe('a reply too long for a JavaScript string', () => {
  it('rejects its own call only; the calls around it settle and the socket keeps working', async () => {
    const client = connection.getClient();
    const calls = [
      client.get(`${p}small`),
      client.get(`${p}big`),
      client.get(`${p}small2`),
      client.sendCommand(['STRLEN', `${p}big`]),
    ];
    const [first, big, second, length] = await Promise.allSettled(calls);
    expect(first).toEqual({ status: 'fulfilled', value: '"one"' });
    expect(second).toEqual({ status: 'fulfilled', value: '"two"' });
    expect(length).toEqual({ status: 'fulfilled', value: TOO_LONG });
    expect(big.status).toBe('rejected');
    const error = (big as PromiseRejectedResult).reason as RedisLayerError;
    expect(error).toBeInstanceOf(RedisLayerError);
    expect(error.code).toBe('ERR_REPLY_TOO_LARGE');
    expect(error.message).toMatch(/too large for a JavaScript string/);
    expect(await client.get(`${p}small`)).toBe('"one"');
  }, 120_000);

  it('fails a pipeline or transaction with such a reply alone', async () => {
    const client = connection.getClient();
    const pipeline = client.pipeline().get(`${p}small`).get(`${p}big`).exec();
    const transaction = client.multi().get(`${p}big`).exec();
    const neighbour = client.get(`${p}small2`);
    await expect(pipeline).rejects.toMatchObject({ code: 'ERR_REPLY_TOO_LARGE' });
    await expect(transaction).rejects.toMatchObject({ code: 'ERR_REPLY_TOO_LARGE' });
    expect(await neighbour).toBe('"two"');
    expect(await client.pipeline().get(`${p}small`).get(`${p}small2`).exec()).toEqual(['"one"', '"two"']);
  }, 120_000);

  it('makes CacheService.get answer null and log the error', async () => {
    const cache = new CacheService(connection);
    log.lines.length = 0;
    const [big, small] = await Promise.all([cache.get(`${p}big`), cache.get(`${p}small`)]);
    expect(big).toBeNull();
    expect(small).toBe('one');
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'Cache get error',
        meta: expect.objectContaining({ key: `${p}big`, code: 'ERR_REPLY_TOO_LARGE' }),
      }),
    );
  }, 120_000);

  it('delivers text whose UTF-8 is longer than the limit when its UTF-16 fits', async () => {
    const count = Math.floor(MAX_STRING / 3) + 1; // three UTF-8 bytes, one UTF-16 unit per character
    fill(`${p}euros`, '€', count);
    const text = await connection.getClient().get(`${p}euros`);
    expect(text?.length).toBe(count);
    expect(text?.startsWith('€€')).toBe(true);
    expect(text?.endsWith('€€')).toBe(true);
    server.cli('DEL', `${p}euros`);
  }, 120_000);
});

describe('CacheService.mget of values that fit alone but not joined', () => {
  it('returns every value', async () => {
    const half = Math.ceil(MAX_STRING / 2);
    fill(`${p}j1`, 'a', half, '["', '"]');
    server.cli('COPY', `${p}j1`, `${p}j2`);
    const cache = new CacheService(connection);
    const values = await cache.mget<string[]>([`${p}small`, `${p}j1`, `${p}nothing`, `${p}j2`]);
    expect(values[0]).toBe('one');
    expect(values[2]).toBeNull();
    for (const value of [values[1], values[3]]) {
      expect(value).toHaveLength(1);
      expect(value?.[0]).toHaveLength(half);
    }
    server.cli('DEL', `${p}j1`, `${p}j2`);
  }, 120_000);

  it('answers misses and logs when one value alone is too long', async () => {
    const cache = new CacheService(connection);
    log.lines.length = 0;
    expect(await cache.mget([`${p}small`, `${p}big`])).toEqual([null, null]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'Cache mget error',
        meta: expect.objectContaining({ code: 'ERR_REPLY_TOO_LARGE' }),
      }),
    );
    expect(await cache.mget([`${p}small`, `${p}small2`])).toEqual(['one', 'two']);
  }, 120_000);
});

describe('a pub/sub message too long for a JavaScript string', () => {
  it('is dropped and logged; the messages around it arrive', async () => {
    const broker = new MessageBroker(connection, { maxQueuedBytes: 0xffffffff });
    const channel = `${p}chan`;
    const seen: Message[] = [];
    await broker.subscribe(channel, (message) => {
      seen.push(message);
    });
    log.lines.length = 0;
    const small = (n: number) =>
      JSON.stringify({ type: 'small', data: n, timestamp: new Date().toISOString(), messageId: `m${n}` });
    // Published inside redis (no JavaScript string can hold the big one), between two small ones.
    server.cli(
      'EVAL',
      "redis.call('PUBLISH', KEYS[1], ARGV[1]); redis.call('PUBLISH', KEYS[1], redis.call('GET', KEYS[2])); return redis.call('PUBLISH', KEYS[1], ARGV[2])",
      '2',
      channel,
      `${p}big`,
      small(1),
      small(2),
    );
    await waitUntil(() => seen.length >= 2, 'the small messages', 60_000);
    await broker.publish(channel, { type: 'small', data: 3 });
    await waitUntil(() => seen.length >= 3, 'the message published after', 60_000);
    expect(seen.map((m) => m.data)).toEqual([1, 2, 3]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'Pub/sub message dropped: too large for a JavaScript string',
        meta: expect.objectContaining({ channel, bytes: TOO_LONG }),
      }),
    );
  }, 120_000);
});
