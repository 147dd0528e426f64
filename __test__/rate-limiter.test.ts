import { createHash } from 'node:crypto';
import { RateLimiter, RedisConnection, setLogger, defaultLogger } from '..';
import { recordingLogger, sleep, startRedis, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

let server: TestServer;
let connection: RedisConnection;
let limiter: RateLimiter;
const log = recordingLogger();
const p = uniquePrefix('limit');
let counter = 0;
const who = () => `${p}${++counter}`;
const tagOf = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 8);
/** Identifiers that are personal data: an IPv4 and an IPv6 address, an e-mail address. */
const personal = () => [
  `198.51.100.${++counter}`,
  `2001:db8::${(++counter).toString(16)}`,
  `ada.${++counter}@example.com`,
];
/** Asserts that no line logged since `from` holds the identifier, and that some line holds its tag. */
function expectOnlyTagged(identifier: string, from: number) {
  const logged = log.lines
    .slice(from)
    .map((l) => `${l.message} ${JSON.stringify(l.meta ?? {})}`)
    .join('\n');
  expect(logged).not.toContain(identifier);
  expect(logged).toContain(tagOf(identifier));
}

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  limiter = new RateLimiter(connection);
  setLogger(log.logger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await connection.close();
  await server.stop();
});

describe('RateLimiter sliding log', () => {
  it('allows exactly maxRequests of 1000 concurrent calls, each its own entry', async () => {
    const id = who();
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 50 })),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    expect(server.cli('ZCARD', `rate_limit:api:${id}`)).toBe('50');
    expect(results.every((r) => r.degraded === false)).toBe(true);
    const remaining = results
      .filter((r) => r.allowed)
      .map((r) => r.remaining)
      .sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('counts down remaining, then denies with retryAfterMs until the oldest entry leaves the window', async () => {
    const id = who();
    const config = { windowMs: 600, maxRequests: 2 };
    const first = await limiter.checkLimit(id, 'login', config);
    expect(first).toMatchObject({ allowed: true, remaining: 1, retryAfterMs: 0, degraded: false });
    await sleep(300);
    expect(await limiter.checkLimit(id, 'login', config)).toMatchObject({ allowed: true, remaining: 0 });
    const denied = await limiter.checkLimit(id, 'login', config);
    expect(denied).toMatchObject({ allowed: false, remaining: 0 });
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(300);
    // The next slot frees when the first request leaves the window, not a full window from now.
    expect(denied.resetTime).toBe(first.resetTime);
    expect(first.resetTime - Date.now()).toBeLessThanOrEqual(300);

    await sleep(denied.retryAfterMs + 30);
    // The window slid past the first request only: one slot is free, the second request still counts.
    expect((await limiter.checkLimit(id, 'login', config)).allowed).toBe(true);
    expect((await limiter.checkLimit(id, 'login', config)).allowed).toBe(false);
  });

  it("stores the seed's format: integer millisecond scores, so seed instances share the window", async () => {
    const id = who();
    const before = Date.now();
    await limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 5 });
    await limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 5 });
    const scores = server
      .cli('ZRANGE', `rate_limit:api:${id}`, '0', '-1', 'WITHSCORES')
      .split('\n')
      .filter((_, i) => i % 2 === 1);
    expect(scores).toHaveLength(2);
    for (const score of scores) {
      expect(score).toMatch(/^\d+$/);
      expect(Math.abs(Number(score) - before)).toBeLessThan(5_000);
    }
    // A seed instance's entry (score and member in ms) counts against the same quota.
    server.cli('ZADD', `rate_limit:api:${id}`, String(Date.now()), String(Date.now()));
    expect(await limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 3 })).toMatchObject({
      allowed: false,
      remaining: 0,
    });
  });

  it('with maxRequests 1, a denied call waits for the one entry, not a whole window from now', async () => {
    const id = who();
    const config = { windowMs: 2_000, maxRequests: 1 };
    const first = await limiter.checkLimit(id, 'api', config);
    await sleep(500);
    const denied = await limiter.checkLimit(id, 'api', config);
    expect(denied.allowed).toBe(false);
    expect(denied.resetTime).toBe(first.resetTime);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(1_600);
  });

  it('replaces a key of another type instead of failing', async () => {
    const id = who();
    server.cli('SET', `rate_limit:api:${id}`, 'not a sorted set');
    expect(await limiter.checkLimit(id, 'api', { windowMs: 1000, maxRequests: 1 })).toMatchObject({
      allowed: true,
      degraded: false,
    });
    expect(server.cli('TYPE', `rate_limit:api:${id}`)).toBe('zset');
  });

  it('denied attempts do not consume capacity', async () => {
    const id = who();
    const config = { windowMs: 400, maxRequests: 3 };
    for (let i = 0; i < 3; i++) expect((await limiter.checkLimit(id, 'api', config)).allowed).toBe(true);
    await sleep(200);
    // Had these been recorded, they would fill the window until well after the first three leave it.
    for (let i = 0; i < 10; i++) expect((await limiter.checkLimit(id, 'api', config)).allowed).toBe(false);
    expect(server.cli('ZCARD', `rate_limit:api:${id}`)).toBe('3');
    await sleep(250);
    const again = await Promise.all([1, 2, 3, 4].map(() => limiter.checkLimit(id, 'api', config)));
    expect(again.map((r) => r.allowed)).toEqual([true, true, true, false]);
  });

  it('the key expires with the window; resetLimit forgets the history', async () => {
    const id = who();
    const config = { windowMs: 5_000, maxRequests: 1 };
    await limiter.checkLimit(id, 'api', config);
    const pttl = Number(server.cli('PTTL', `rate_limit:api:${id}`));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
    expect((await limiter.checkLimit(id, 'api', config)).allowed).toBe(false);
    expect(await limiter.resetLimit(id, 'api')).toBe(true);
    expect((await limiter.checkLimit(id, 'api', config)).allowed).toBe(true);
    expect(await limiter.resetLimit(`${id}-none`, 'api')).toBe(false);
  });

  it('rejects invalid configs with errors naming the field', async () => {
    const id = who();
    await expect(limiter.checkLimit(id, 'api', { windowMs: 0, maxRequests: 1 })).rejects.toThrow(/windowMs/);
    await expect(limiter.checkLimit(id, 'api', { windowMs: Number.NaN, maxRequests: 1 })).rejects.toThrow(RangeError);
    await expect(limiter.checkLimit(id, 'api', { windowMs: 1000, maxRequests: 0 })).rejects.toThrow(/maxRequests/);
    await expect(limiter.checkLimit(id, 'api', { windowMs: 1000, maxRequests: 1.5 })).rejects.toThrow(RangeError);
    await expect(
      limiter.checkLimit(id, 'api', { windowMs: '1000' as unknown as number, maxRequests: 1 }),
    ).rejects.toThrow(TypeError);
    await expect(
      limiter.checkLimit(id, 'api', { windowMs: 1000, maxRequests: 1, algorithm: 'leaky' as 'gcra' }),
    ).rejects.toThrow(/algorithm/);
    await expect(
      limiter.checkLimit(42 as unknown as string, 'api', { windowMs: 1000, maxRequests: 1 }),
    ).rejects.toThrow(/identifier/);
    await expect(
      limiter.checkLimit(id, 'api', undefined as unknown as { windowMs: number; maxRequests: number }),
    ).rejects.toThrow(/config/);
    const gcra = { windowMs: 1000, maxRequests: 2, algorithm: 'gcra' as const };
    await expect(limiter.checkLimit(id, 'api', { ...gcra, burst: 0 })).rejects.toThrow(/burst/);
    await expect(limiter.checkLimit(id, 'api', { ...gcra, burst: 2.5 })).rejects.toThrow(RangeError);
    await expect(limiter.checkLimit(id, 'api', { ...gcra, burst: '3' as unknown as number })).rejects.toThrow(
      TypeError,
    );
    await expect(limiter.checkLimit(id, 'api', { windowMs: 1000, maxRequests: 2, burst: 3 })).rejects.toThrow(
      /burst.*gcra/,
    );
  });

  it('rejects a type holding ":", so an identifier cannot name another type\'s key', async () => {
    const config = { windowMs: 60_000, maxRequests: 1 };
    const alice = who();
    // Type 'api' with identifier 'write:<alice>' owns rate_limit:api:write:<alice>, and keeps owning it alone.
    expect((await limiter.checkLimit(`write:${alice}`, 'api', config)).allowed).toBe(true);
    expect(server.cli('ZCARD', `rate_limit:api:write:${alice}`)).toBe('1');
    for (const [type, id] of [
      ['api:write', alice],
      ['a:b:c', alice],
      ['api:', `write:${alice}`],
      [':api', alice],
    ]) {
      await expect(limiter.checkLimit(id, type, config)).rejects.toThrow(RangeError);
      await expect(limiter.checkLimit(id, type, config)).rejects.toThrow(/type must not contain ':'/);
      await expect(limiter.resetLimit(id, type)).rejects.toThrow(/type/);
    }
    expect(server.cli('ZCARD', `rate_limit:api:write:${alice}`)).toBe('1');
    expect(
      server.cli('EXISTS', `rate_limit:api:write:${alice}`, `rate_limit:a:b:c:${alice}`, `rate_limit::api:${alice}`),
    ).toBe('1');
    // Identifiers may hold ':' (IPv6 addresses do).
    expect((await limiter.checkLimit('2001:db8::1', `api${counter}`, config)).allowed).toBe(true);
  });

  it('logs a tag of the identifier, never the identifier, when it denies', async () => {
    for (const id of personal()) {
      const from = log.lines.length;
      await limiter.checkLimit(id, 'login', { windowMs: 60_000, maxRequests: 1 });
      expect((await limiter.checkLimit(id, 'login', { windowMs: 60_000, maxRequests: 1 })).allowed).toBe(false);
      expect(
        (await limiter.checkLimit(id, 'login', { windowMs: 60_000, maxRequests: 1, algorithm: 'gcra' })).allowed,
      ).toBe(true);
      expect(
        (await limiter.checkLimit(id, 'login', { windowMs: 60_000, maxRequests: 1, algorithm: 'gcra' })).allowed,
      ).toBe(false);
      expect(log.lines.slice(from).filter((l) => l.message === 'Rate limit exceeded')).toHaveLength(2);
      expectOnlyTagged(id, from);
    }
  });
});

describe('RateLimiter batching', () => {
  const evalshaCalls = () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(server.cli('INFO', 'commandstats'))?.[1] ?? 0);

  it('decides the checks of one tick in few script calls, exactly and in call order per identifier', async () => {
    const ids = Array.from({ length: 50 }, () => who());
    const config = { windowMs: 60_000, maxRequests: 3 };
    const before = evalshaCalls();
    const results = await Promise.all(
      ids.flatMap((id) => Array.from({ length: 6 }, () => limiter.checkLimit(id, 'api', config))),
    );
    const calls = evalshaCalls() - before;
    for (let i = 0; i < ids.length; i++) {
      expect(results.slice(i * 6, i * 6 + 6).map((r) => r.allowed)).toEqual([true, true, true, false, false, false]);
      expect(results.slice(i * 6, i * 6 + 3).map((r) => r.remaining)).toEqual([2, 1, 0]);
    }
    // 300 decisions, at most 32 per call.
    expect(calls).toBeGreaterThanOrEqual(10);
    expect(calls).toBeLessThanOrEqual(20);
    for (const id of ids) expect(server.cli('ZCARD', `rate_limit:api:${id}`)).toBe('3');
  });

  it('never lets a check overtake a command queued before it: a DEL between two checks resets the log', async () => {
    const id = who();
    const config = { windowMs: 60_000, maxRequests: 5 };
    const [first, deleted, second] = await Promise.all([
      limiter.checkLimit(id, 'api', config),
      connection.getClient().del(`rate_limit:api:${id}`),
      limiter.checkLimit(id, 'api', config),
    ]);
    expect(deleted).toBe(1);
    expect([first.remaining, second.remaining]).toEqual([4, 4]);
  });

  it('sends the sliding log and GCRA checks of one tick as separate calls, each exact', async () => {
    const id = who();
    const results = await Promise.all([
      limiter.checkLimit(id, 'log', { windowMs: 60_000, maxRequests: 1 }),
      limiter.checkLimit(id, 'rate', { windowMs: 60_000, maxRequests: 1, algorithm: 'gcra' }),
      limiter.checkLimit(id, 'log', { windowMs: 60_000, maxRequests: 1 }),
      limiter.checkLimit(id, 'rate', { windowMs: 60_000, maxRequests: 1, algorithm: 'gcra' }),
    ]);
    expect(results.map((r) => r.allowed)).toEqual([true, true, false, false]);
  });

  it('gives an allowed request the end of its window and a denied one the time a slot frees', async () => {
    const id = who();
    const config = { windowMs: 10_000, maxRequests: 2 };
    const first = await limiter.checkLimit(id, 'reset', config);
    await sleep(30);
    const second = await limiter.checkLimit(id, 'reset', config);
    const denied = await limiter.checkLimit(id, 'reset', config);
    expect(second.resetTime - first.resetTime).toBeGreaterThanOrEqual(25);
    expect(denied.resetTime).toBe(first.resetTime);
    expect(denied.retryAfterMs).toBeGreaterThan(9_000);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(10_000);
  });
});

describe('RateLimiter denial logging', () => {
  it('logs each denial at debug and sums them per type in one warn line per interval', async () => {
    const quiet = new RateLimiter(connection, { denialLogIntervalMs: 100 });
    const config = { windowMs: 60_000, maxRequests: 1 };
    const from = log.lines.length;
    const id = who();
    for (let i = 0; i < 4; i++) await quiet.checkLimit(id, 'login', config);
    for (let i = 0; i < 3; i++) await quiet.checkLimit(id, 'api', config);
    const denials = log.lines.slice(from).filter((l) => l.message === 'Rate limit exceeded');
    expect(denials.map((l) => l.level)).toEqual(['debug', 'debug', 'debug', 'debug', 'debug']);
    expect(log.lines.slice(from).some((l) => l.level === 'warn')).toBe(false);
    await sleep(200);
    const summaries = log.lines.slice(from).filter((l) => l.message === 'Rate limits exceeded');
    expect(summaries).toEqual([
      { level: 'warn', message: 'Rate limits exceeded', meta: { denied: { login: 3, api: 2 }, intervalMs: 100 } },
    ]);
    expectOnlyTagged(id, from);
  });

  it('rejects an interval that is not a positive number of milliseconds', () => {
    expect(() => new RateLimiter(connection, { denialLogIntervalMs: 0 })).toThrow(RangeError);
    expect(() => new RateLimiter(connection, { denialLogIntervalMs: Number.NaN })).toThrow(/denialLogIntervalMs/);
  });
});

describe('RateLimiter GCRA', () => {
  const gcra = (windowMs: number, maxRequests: number) => ({ windowMs, maxRequests, algorithm: 'gcra' as const });

  it('allows the whole quota as a burst, then exactly maxRequests of 1000 concurrent calls in total', async () => {
    const id = who();
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => limiter.checkLimit(id, 'api', gcra(60_000, 50))),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    const denied = results.find((r) => !r.allowed)!;
    expect(denied.retryAfterMs).toBeGreaterThan(1_000);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(1_200);
  });

  it('refills at a steady rate of one request per window / maxRequests', async () => {
    const id = who();
    const config = gcra(1_000, 5); // one request per 200 ms
    const burst = await Promise.all(Array.from({ length: 8 }, () => limiter.checkLimit(id, 'api', config)));
    expect(burst.filter((r) => r.allowed)).toHaveLength(5);
    const denied = await limiter.checkLimit(id, 'api', config);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(200);
    await sleep(denied.retryAfterMs + 20);
    expect(await limiter.checkLimit(id, 'api', config)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await limiter.checkLimit(id, 'api', config)).allowed).toBe(false);
  });

  it('keeps O(1) state: one short string per key, whatever the request count', async () => {
    const id = who();
    const config = gcra(3_600_000, 1_000); // one request per 3.6 s: nothing refills during the loop
    for (let i = 0; i < 100; i++) await limiter.checkLimit(id, 'api', config);
    expect(server.cli('TYPE', `rate_limit:api:${id}`)).toBe('string');
    expect(Number(server.cli('STRLEN', `rate_limit:api:${id}`))).toBeLessThan(24);
    expect((await limiter.checkLimit(id, 'api', config)).remaining).toBe(899);
  });

  it('allows at most burst + maxRequests - 1 in one window, and burst 1 keeps every window to maxRequests', async () => {
    // One request per 1000 ms; bursts of 10 concurrent calls at 0, 1.2, 2.4 and 3.6 s, inside one 4 s window.
    const config = (burst?: number) => ({ ...gcra(4_000, 4), ...(burst === undefined ? {} : { burst }) });
    const cases = [
      { burst: undefined, capacity: 4 },
      { burst: 2, capacity: 2 },
      { burst: 1, capacity: 1 },
    ].map((c) => ({ ...c, id: who() }));
    const serverMs = async () => {
      const [seconds, micros] = (await connection.getClient().sendCommand<string[]>(['TIME'])).map(Number);
      return seconds * 1000 + Math.floor(micros / 1000);
    };
    const burstOf = (id: string, burst?: number) =>
      Promise.all(Array.from({ length: 10 }, () => limiter.checkLimit(id, 'api', config(burst)))).then(
        (results) => results.filter((r) => r.allowed).length,
      );
    const start = await serverMs();
    const clientStart = Date.now();
    const allowed: number[][] = cases.map(() => []);
    for (const at of [0, 1_200, 2_400, 3_600]) {
      await sleep(clientStart + at - Date.now());
      const counts = await Promise.all(cases.map((c) => burstOf(c.id, c.burst)));
      for (const [i, count] of counts.entries()) allowed[i].push(count);
    }
    // The bursts fell inside one window by the server's clock (the scripts' clock).
    expect((await serverMs()) - start).toBeLessThan(4_000);
    const total = (counts: number[]) => counts.reduce((a, b) => a + b);
    // Default burst (= maxRequests) and burst 2: the whole burst, then one per interval, reaching the bound.
    expect(allowed[0]).toEqual([4, 1, 1, 1]);
    expect(total(allowed[0])).toBe(2 * 4 - 1);
    expect(allowed[1]).toEqual([2, 1, 1, 1]);
    expect(total(allowed[1])).toBe(2 + 4 - 1);
    // Burst 1: one at a time, never more than maxRequests in the window.
    expect(allowed[2][0]).toBe(1);
    for (const count of allowed[2]) expect(count).toBeLessThanOrEqual(1);
    expect(total(allowed[2])).toBeLessThanOrEqual(4);
  });

  it('a burst larger than maxRequests passes whole, then refills at the same rate', async () => {
    const id = who();
    const config = { ...gcra(60_000, 10), burst: 25 };
    const results = await Promise.all(Array.from({ length: 40 }, () => limiter.checkLimit(id, 'api', config)));
    expect(results.filter((r) => r.allowed)).toHaveLength(25);
    expect(
      results
        .filter((r) => r.allowed)
        .map((r) => r.remaining)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 25 }, (_, i) => i));
    const denied = results.find((r) => !r.allowed)!;
    expect(denied.retryAfterMs).toBeGreaterThan(5_000);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(6_000);
  });

  it('switching algorithms on one key starts afresh instead of failing', async () => {
    const id = who();
    expect((await limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 1 })).allowed).toBe(true);
    expect(await limiter.checkLimit(id, 'api', gcra(60_000, 1))).toMatchObject({ allowed: true, degraded: false });
    expect(await limiter.checkLimit(id, 'api', { windowMs: 60_000, maxRequests: 1 })).toMatchObject({
      allowed: true,
      degraded: false,
    });
  });
});

describe('RateLimiter when Redis is unreachable', () => {
  let owned: TestServer;
  let ownedConnection: RedisConnection;
  // The helper's stop() after kill() waits for an exit that already happened.
  let killed = false;

  beforeAll(async () => {
    owned = await startRedis();
    ownedConnection = new RedisConnection({ url: owned.url, reconnectDelayMs: 1000 });
    await ownedConnection.connect();
  });

  afterAll(async () => {
    await ownedConnection.close();
    if (!killed) await owned.stop();
  });

  it('fails open by default and says so; failOpen: false denies', async () => {
    const faulty = new RateLimiter(ownedConnection);
    const config = { windowMs: 10_000, maxRequests: 1 };
    expect(await faulty.checkLimit('x', 'api', config)).toMatchObject({ allowed: true, degraded: false });
    expect(await faulty.checkLimit('x', 'api', config)).toMatchObject({ allowed: false, degraded: false });
    await owned.kill();
    killed = true;

    const open = await faulty.checkLimit('x', 'api', config);
    expect(open).toMatchObject({ allowed: true, remaining: 1, retryAfterMs: 0, degraded: true });
    const closed = await faulty.checkLimit('x', 'api', { ...config, failOpen: false });
    expect(closed).toMatchObject({ allowed: false, remaining: 0, degraded: true });
    expect(closed.retryAfterMs).toBeGreaterThan(0);
    const gcraClosed = await faulty.checkLimit('x', 'api', { ...config, algorithm: 'gcra', failOpen: false });
    expect(gcraClosed).toMatchObject({ allowed: false, degraded: true });
    expect(await faulty.resetLimit('x', 'api')).toBe(false);
    expect(log.text()).toMatch(/Rate limiter error/);
  });

  it('logs a tag of the identifier, never the identifier, when Redis cannot be asked', async () => {
    const faulty = new RateLimiter(ownedConnection);
    const never = new RateLimiter(new RedisConnection({ url: server.url }));
    for (const id of personal()) {
      const from = log.lines.length;
      expect((await faulty.checkLimit(id, 'login', { windowMs: 1000, maxRequests: 1 })).degraded).toBe(true);
      expect((await faulty.checkLimit(id, 'login', { windowMs: 1000, maxRequests: 1, failOpen: false })).degraded).toBe(
        true,
      );
      expect(
        (await never.checkLimit(id, 'login', { windowMs: 1000, maxRequests: 1, algorithm: 'gcra' })).degraded,
      ).toBe(true);
      expect(await faulty.resetLimit(id, 'login')).toBe(false);
      expect(log.lines.slice(from).filter((l) => l.level === 'error')).toHaveLength(4);
      expectOnlyTagged(id, from);
    }
  });

  it('a connection that was never opened is degraded too', async () => {
    const never = new RateLimiter(new RedisConnection({ url: server.url }));
    expect(await never.checkLimit('x', 'api', { windowMs: 1000, maxRequests: 1 })).toMatchObject({
      allowed: true,
      degraded: true,
    });
    expect(await never.checkLimit('x', 'api', { windowMs: 1000, maxRequests: 1, failOpen: false })).toMatchObject({
      allowed: false,
      degraded: true,
    });
  });
});

describe('RateLimiter on a socket that answers out of shape', () => {
  it("treats a reply that is not the script's as a Redis failure: degraded per failOpen, never NaN", async () => {
    // Code holding the raw socket left it inside MULTI: every command now answers QUEUED.
    const own = new RedisConnection({ url: server.url });
    await own.connect();
    const dispatcher = own.getClient().dispatcher;
    try {
      expect(await dispatcher.command(['MULTI'])).toBe('OK');
      const queued = new RateLimiter(own);
      const id = personal()[2];
      const from = log.lines.length;
      for (const algorithm of ['sliding-log', 'gcra'] as const) {
        const open = await queued.checkLimit(id, 'api', { windowMs: 5_000, maxRequests: 3, algorithm });
        expect(open).toEqual({
          allowed: true,
          remaining: 3,
          resetTime: expect.any(Number),
          retryAfterMs: 0,
          degraded: true,
        });
        const closed = await queued.checkLimit(id, 'api', {
          windowMs: 5_000,
          maxRequests: 3,
          algorithm,
          failOpen: false,
        });
        expect(closed).toMatchObject({ allowed: false, remaining: 0, degraded: true });
        for (const value of [...Object.values(open), ...Object.values(closed)]) expect(Number.isNaN(value)).toBe(false);
      }
      expect(await queued.resetLimit(id, 'api')).toBe(false);
      const errors = log.lines.slice(from).filter((l) => l.level === 'error');
      expect(errors).toHaveLength(5);
      for (const line of errors) expect(line.meta).toMatchObject({ code: 'ERR_UNEXPECTED_REPLY' });
      expectOnlyTagged(id, from);
    } finally {
      await dispatcher.command(['DISCARD']);
      await own.close();
    }
  });
});
