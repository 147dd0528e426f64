import { spawn } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { RedisConnection, SessionService, type SessionData, setLogger, defaultLogger, userSessionsKey } from '..';
import { recordingLogger, sleep, startRedis, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

let server: TestServer;
let connection: RedisConnection;
let sessions: SessionService;
const log = recordingLogger();
const p = uniquePrefix('session-hardening');
let counter = 0;
const user = () => `${p}u${++counter}`;
const newId = () => sessions.generateSessionId();
const tagOf = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 8);

function data(userId: string, extra: Partial<SessionData> = {}): SessionData {
  return {
    userId,
    email: 'ada@example.com',
    username: 'ada',
    role: 'user',
    permissions: ['read'],
    lastActivity: new Date('2024-01-02T03:04:05.006Z'),
    ipAddress: '10.0.0.1',
    userAgent: 'jest',
    ...extra,
  };
}

const exists = (id: string) => server.cli('EXISTS', `session:${id}`) === '1';
const indexed = (userId: string) =>
  server.cli('ZRANGE', userSessionsKey(userId), '0', '-1').split('\n').filter(Boolean);
const score = (userId: string, id: string) => Number(server.cli('ZSCORE', userSessionsKey(userId), id));
/** The server's clock in ms (what the index scores are measured in). */
function serverNow(): number {
  const [seconds, micros] = server.cli('TIME').split('\n');
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  sessions = new SessionService(connection);
  setLogger(log.logger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await connection.close();
  await server.stop();
});

describe('session ids never reach logs or error messages', () => {
  /** Every logged line since `from` plus the thrown messages and stacks, as one text. */
  const loggedSince = (from: number, thrown: string[]) =>
    [...log.lines.slice(from).map((l) => `${l.level} ${l.message} ${JSON.stringify(l.meta ?? {})}`), ...thrown].join(
      '\n',
    );

  it('a whole lifecycle, its error paths and a Redis outage log tags only, at every level', async () => {
    const from = log.lines.length;
    const thrown: string[] = [];
    const attempt = async <T>(call: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await call();
      } catch (error) {
        thrown.push(`${(error as Error).message}\n${(error as Error).stack}`);
        return undefined;
      }
    };
    const userId = user();
    const [first, second, corrupt, broken, evicted, kept] = [newId(), newId(), newId(), newId(), newId(), newId()];

    await sessions.createSession(first, data(userId));
    await sessions.createSession(second, data(userId));
    expect(await sessions.getSession(first)).not.toBeNull();
    expect(await sessions.updateSession(first, { role: 'admin' })).toBe(true);
    expect(await sessions.extendSession(first)).toBe(true);
    await attempt(() => sessions.updateSession(first, { userId: 'someone-else' }));
    const rotated = await sessions.rotateSession(first);
    expect(rotated).toEqual(expect.any(String));
    expect(await sessions.getActiveSessions(userId)).toHaveLength(2);
    expect(await sessions.deleteSession(rotated!)).toBe(true);

    // Corrupt sessions: not JSON at all, and an object whose merged text does not parse.
    server.cli('SET', `session:${corrupt}`, 'not json', 'EX', '100');
    server.cli('SET', `session:${broken}`, `{"userId":${JSON.stringify(userId)},"a":nope}`, 'EX', '100');
    server.cli('ZADD', userSessionsKey(userId), String(serverNow() + DAY), broken);
    expect(await sessions.getSession(corrupt)).toBeNull();
    expect(await sessions.getSession(broken)).toBeNull();
    expect(await sessions.getActiveSessions(userId)).toHaveLength(1);
    expect(await sessions.deleteUserSessions(userId)).toBe(1);

    // A login beyond the per-user cap logs the evicted session out.
    const capped = new SessionService(connection, { maxSessionsPerUser: 1 });
    await capped.createSession(evicted, data(userId));
    await capped.createSession(kept, data(userId));
    expect(exists(evicted)).toBe(false);

    // Redis goes away: reads log errors, writes reject.
    const doomed = await startRedis();
    const doomedConnection = new RedisConnection({ url: doomed.url });
    let downId = '';
    try {
      await doomedConnection.connect();
      const down = new SessionService(doomedConnection);
      downId = down.generateSessionId();
      await down.createSession(downId, data(userId));
      await doomed.kill();
      expect(await down.getSession(downId)).toBeNull();
      expect(await down.getActiveSessions(userId)).toEqual([]);
      await attempt(() => down.updateSession(downId, { role: 'x' }));
      await attempt(() => down.extendSession(downId));
      await attempt(() => down.rotateSession(downId));
      await attempt(() => down.deleteSession(downId));
      await attempt(() => down.createSession(down.generateSessionId(), data(userId)));
    } finally {
      await doomedConnection.close();
      await doomed.stop();
    }

    const text = loggedSince(from, thrown);
    const levels = new Set(log.lines.slice(from).map((l) => l.level));
    expect([...levels].sort()).toEqual(expect.arrayContaining(['error', 'info', 'warn']));
    expect(thrown.length).toBeGreaterThanOrEqual(5);
    for (const id of [first, second, rotated!, corrupt, broken, evicted, kept, downId]) {
      expect(text).not.toContain(id);
      expect(text).toContain(tagOf(id));
    }
  });

  it("the retry-exhausted errors of deleteSession and rotateSession carry the session's tag, not its id", async () => {
    // Another process keeps handing the session to a new owner, so every owner-checked step finds it changed.
    const messages: string[] = [];
    const ids: string[] = [];
    const seen = () => new Set(messages.map((m) => m.split(':')[0]));
    for (let round = 0; round < 10 && seen().size < 2; round++) {
      const id = newId();
      ids.push(id);
      await sessions.createSession(id, data(user()));
      const flipper = flipOwners(`session:${id}`);
      try {
        await sleep(20);
        const call = round % 2 === 0 ? sessions.deleteSession(id) : sessions.rotateSession(id);
        await call.catch((error: Error) => messages.push(`${error.message}\n${error.stack}`));
      } finally {
        await flipper.stop();
      }
    }
    const text = messages.join('\n');
    expect(text).toMatch(/deleteSession: the session tagged [0-9a-f]{8} kept changing owner/);
    expect(text).toMatch(/rotateSession: the session tagged [0-9a-f]{8} could not be moved/);
    for (const id of ids) expect(text).not.toContain(id);
  });
});

/** Streams SETs of `key` with a new owner each (redis-cli --pipe, a process of its own) until stopped. */
function flipOwners(key: string) {
  const url = new URL(server.url);
  const auth = url.password ? ['-a', decodeURIComponent(url.password), '--no-auth-warning'] : [];
  const child = spawn('redis-cli', ['-h', url.hostname, '-p', url.port || '6379', ...auth, '--pipe'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  let n = 0;
  let stopped = false;
  const chunk = () => {
    let out = '';
    for (let i = 0; i < 20; i++, n++) {
      out += `*5\r\n${bulk('SET')}${bulk(key)}${bulk(JSON.stringify(data(`${p}flip${n}`)))}${bulk('EX')}${bulk('100')}`;
    }
    return out;
  };
  // A steady stream, a small chunk per turn of the event loop while the pipe keeps up: every owner
  // check sees a change, and no backlog builds up to delay everyone else's commands by seconds.
  const pump = () => {
    if (stopped) return;
    if (child.stdin.write(chunk())) setImmediate(pump);
    else child.stdin.once('drain', pump);
  };
  pump();
  child.stdin.on('error', () => undefined);
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        stopped = true;
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe('updateSession never changes or strips the owner', () => {
  /** A user id that is a number's text, so `{ userId: 42 }` names the same user as '42'. */
  const numericOwner = () => String(randomInt(1e9, 9e9));

  type Case = {
    name: string;
    updates: (owner: string) => Record<string, unknown>;
    rejects?: [ErrorConstructor, RegExp];
  };
  const optionalDto = (body: { role?: string; userId?: string }) => ({ role: body.role, userId: body.userId });
  const cases: Case[] = [
    { name: '{ userId: undefined }', updates: () => ({ userId: undefined }) },
    { name: 'a spread DTO whose optional userId is undefined', updates: () => ({ ...optionalDto({ role: 'admin' }) }) },
    {
      name: 'the owner as a number ({ userId: 42 } for owner "42")',
      updates: (owner) => ({ userId: Number(owner), role: 'admin' }),
    },
    { name: 'the owner itself', updates: (owner) => ({ userId: owner, role: 'admin' }) },
    { name: '{ userId: null }', updates: () => ({ userId: null }), rejects: [TypeError, /updates\.userId/] },
    { name: "{ userId: '' }", updates: () => ({ userId: '' }), rejects: [RangeError, /updates\.userId/] },
    { name: 'another user', updates: () => ({ userId: 'someone-else' }), rejects: [RangeError, /updates\.userId/] },
    {
      name: 'another user as a number',
      updates: (owner) => ({ userId: Number(owner) + 1 }),
      rejects: [RangeError, /updates\.userId/],
    },
    {
      name: 'a spread DTO naming another user',
      updates: () => ({ ...optionalDto({ role: 'admin', userId: 'mallory' }) }),
      rejects: [RangeError, /updates\.userId/],
    },
    { name: 'an object', updates: (owner) => ({ userId: { id: owner } }), rejects: [TypeError, /updates\.userId/] },
    { name: 'NaN', updates: () => ({ userId: Number.NaN }), rejects: [RangeError, /updates\.userId/] },
  ];

  it.each(cases)(
    '$name: the owner stays, the session stays indexed and "log out everywhere" reaches it',
    async ({ updates, rejects }) => {
      const owner = numericOwner();
      const id = newId();
      await sessions.createSession(id, data(owner));
      const before = server.cli('GET', `session:${id}`);
      const call = sessions.updateSession(id, updates(owner) as Partial<SessionData>);
      if (rejects) {
        await expect(call).rejects.toThrow(rejects[0]);
        await expect(sessions.updateSession(id, updates(owner) as Partial<SessionData>)).rejects.toThrow(rejects[1]);
        expect(server.cli('GET', `session:${id}`)).toBe(before);
      } else {
        await expect(call).resolves.toBe(true);
        const stored = server.cli('GET', `session:${id}`);
        expect(stored).toContain(`"userId":${JSON.stringify(owner)},`);
        expect(JSON.parse(stored).userId).toBe(owner);
      }
      expect(indexed(owner)).toEqual([id]);
      expect(await sessions.deleteUserSessions(owner)).toBe(1);
      expect(exists(id)).toBe(false);
    },
  );

  it('a session the seed stored with a numeric owner keeps it through updates naming it or leaving it undefined', async () => {
    const owner = numericOwner();
    const id = newId();
    server.cli('SET', `session:${id}`, JSON.stringify({ ...data(owner), userId: Number(owner) }), 'EX', '100');
    server.cli('SET', `user:${owner}:session`, JSON.stringify(id), 'EX', '100');
    expect(await sessions.updateSession(id, { userId: owner, role: 'a' })).toBe(true);
    expect(await sessions.updateSession(id, { userId: undefined, role: 'b' } as Partial<SessionData>)).toBe(true);
    const stored = JSON.parse(server.cli('GET', `session:${id}`));
    expect(stored).toMatchObject({ userId: Number(owner), role: 'b' });
    expect(await sessions.deleteUserSessions(owner)).toBe(1);
    expect(exists(id)).toBe(false);
  });

  it('createSession refuses an empty owner', async () => {
    await expect(sessions.createSession(newId(), data(''))).rejects.toThrow(/sessionData\.userId must not be empty/);
  });
});

describe("a user's session index stays O(active sessions)", () => {
  it("scores each entry at or above its session's expiry and raises it when the session slides", async () => {
    const userId = user();
    const id = newId();
    await sessions.createSession(id, data(userId));
    const pttl = Number(server.cli('PTTL', `session:${id}`));
    expect(score(userId, id)).toBeGreaterThanOrEqual(serverNow() + pttl);
    expect(score(userId, id)).toBeLessThanOrEqual(serverNow() + DAY + 2 * HOUR);
    // The index itself lives as long as its latest entry's bound (not 30 days).
    expect(Number(server.cli('PTTL', userSessionsKey(userId)))).toBeGreaterThanOrEqual(pttl);
    expect(Number(server.cli('PTTL', userSessionsKey(userId)))).toBeLessThanOrEqual(DAY + 2 * HOUR);

    // As the entry stands a day after its last raise: the session slides, through each sliding call.
    const slides: Array<[string, (service: SessionService) => Promise<unknown>]> = [
      ['getSession', (service) => service.getSession(id)],
      ['updateSession', (service) => service.updateSession(id, { role: 'admin' })],
      ['extendSession', (service) => service.extendSession(id)],
    ];
    for (const [name, slide] of slides) {
      server.cli('ZADD', userSessionsKey(userId), 'XX', String(serverNow() + 60_000), id);
      server.cli('PEXPIRE', userSessionsKey(userId), '60000');
      await slide(new SessionService(connection));
      for (let i = 0; i < 100 && score(userId, id) < serverNow() + DAY; i++) await sleep(5);
      const expiry = serverNow() + Number(server.cli('PTTL', `session:${id}`));
      expect([name, score(userId, id) >= expiry]).toEqual([name, true]);
      expect([name, Number(server.cli('PTTL', userSessionsKey(userId))) > DAY]).toEqual([name, true]);
    }
  });

  it('raises a session’s bound at most once an hour per process: further reads cost no index write', async () => {
    const userId = user();
    const id = newId();
    const service = new SessionService(connection);
    await service.createSession(id, data(userId));
    const lowered = String(serverNow() + 60_000);
    server.cli('ZADD', userSessionsKey(userId), 'XX', lowered, id);
    for (let i = 0; i < 5; i++) await service.getSession(id);
    await sleep(50);
    expect(server.cli('ZSCORE', userSessionsKey(userId), id)).toBe(lowered);
  });

  it('entries whose sessions are gone leave the index on the next login, without getActiveSessions', async () => {
    const userId = user();
    const ids = [newId(), newId(), newId(), newId(), newId()];
    for (const id of ids) await sessions.createSession(id, data(userId));
    // Three sessions expire on their own; their entries' bounds pass (what a day and two hours do).
    for (const id of ids.slice(0, 3)) {
      server.cli('PEXPIRE', `session:${id}`, '1');
      server.cli('ZADD', userSessionsKey(userId), 'XX', String(serverNow() - 1), id);
    }
    await sleep(10);
    const login = newId();
    await sessions.createSession(login, data(userId));
    expect(indexed(userId).sort()).toEqual([...ids.slice(3), login].sort());
    expect(await sessions.deleteUserSessions(userId)).toBe(3);
  });

  it('an index written by an earlier build (creation-time scores, 30-day TTL) keeps every live session at the next login', async () => {
    const userId = user();
    const ids = [newId(), newId(), newId()];
    const created = serverNow() - 3 * DAY;
    for (const [i, id] of ids.entries()) {
      server.cli('SET', `session:${id}`, JSON.stringify(data(userId)), 'EX', '86400');
      server.cli('ZADD', userSessionsKey(userId), String(created + i), id);
    }
    server.cli('PEXPIRE', userSessionsKey(userId), String(30 * DAY));
    const login = newId();
    await sessions.createSession(login, data(userId));
    expect(indexed(userId).sort()).toEqual([...ids, login].sort());
    for (const id of ids) expect(score(userId, id)).toBeGreaterThan(serverNow() + DAY);
    expect(Number(server.cli('PTTL', userSessionsKey(userId)))).toBeLessThanOrEqual(DAY + 2 * HOUR);
    // Converted once: the next login prunes by bound as usual.
    server.cli('PEXPIRE', `session:${ids[0]}`, '1');
    server.cli('ZADD', userSessionsKey(userId), 'XX', String(serverNow() - 1), ids[0]);
    await sessions.createSession(newId(), data(userId));
    expect(indexed(userId)).not.toContain(ids[0]);
    expect(await sessions.deleteUserSessions(userId)).toBe(4);
  });

  it('a login beyond maxSessionsPerUser logs out the least recently active sessions; the cap holds after many logins', async () => {
    const userId = user();
    const capped = new SessionService(connection, { maxSessionsPerUser: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = newId();
      if (i > 0) {
        // The first device stays in use (served by other processes, which raise its bound): it outlives later logins.
        const before = score(userId, ids[0]);
        await new SessionService(connection).getSession(ids[0]);
        for (let n = 0; n < 100 && score(userId, ids[0]) === before; n++) await sleep(2);
      }
      ids.push(id);
      await capped.createSession(id, data(userId));
      await sleep(2); // logins a few ms apart, so their bounds differ
      expect(indexed(userId).length).toBeLessThanOrEqual(3);
    }
    const live = [ids[0], ids[8], ids[9]];
    expect(indexed(userId).sort()).toEqual([...live].sort());
    for (const id of ids)
      expect([id === ids[0] ? 'slid' : ids.indexOf(id), exists(id)]).toEqual([
        id === ids[0] ? 'slid' : ids.indexOf(id),
        live.includes(id),
      ]);
    expect(await capped.getSession(ids[1])).toBeNull();
    expect((await capped.getActiveSessions(userId)).length).toBe(3);
    expect(log.text()).toContain(tagOf(ids[1]));
    expect(await capped.deleteUserSessions(userId)).toBe(3);
    for (const id of live) expect(exists(id)).toBe(false);
  });

  it('the default cap of 100 holds over 130 logins and log-out-everywhere reaches every live session', async () => {
    const userId = user();
    const ids: string[] = [];
    for (let i = 0; i < 130; i++) {
      const id = newId();
      ids.push(id);
      await sessions.createSession(id, data(userId));
      await sleep(2);
    }
    expect(indexed(userId)).toHaveLength(100);
    expect(ids.slice(0, 30).filter(exists)).toEqual([]);
    expect(ids.slice(30).every(exists)).toBe(true);
    expect(await sessions.deleteUserSessions(userId)).toBe(100);
    expect(ids.filter(exists)).toEqual([]);
  });

  it('rotating a session of a user at the cap logs no one out', async () => {
    const userId = user();
    const capped = new SessionService(connection, { maxSessionsPerUser: 3 });
    const ids = [newId(), newId(), newId()];
    for (const id of ids) await capped.createSession(id, data(userId));
    await sleep(2);
    const rotated = await capped.rotateSession(ids[0]);
    expect(rotated).toEqual(expect.any(String));
    expect(indexed(userId).sort()).toEqual([rotated!, ids[1], ids[2]].sort());
    expect([rotated!, ids[1], ids[2]].every(exists)).toBe(true);
    // The rotated id lists as the most recently active.
    expect((await capped.getActiveSessions(userId)).length).toBe(3);
    expect(server.cli('ZREVRANGE', userSessionsKey(userId), '0', '0')).toBe(rotated);
  });

  it('rejects a maxSessionsPerUser that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '3']) {
      expect(() => new SessionService(connection, { maxSessionsPerUser: bad as number })).toThrow(
        /options\.maxSessionsPerUser/,
      );
    }
  });
});

describe('replies of the wrong shape', () => {
  it('are ERR_UNEXPECTED_REPLY errors (reads: logged, null / []), never a silent wrong answer', async () => {
    // A MULTI left open on the socket makes Redis answer every later command with QUEUED.
    const own = new RedisConnection({ url: server.url });
    await own.connect();
    const service = new SessionService(own);
    const userId = user();
    const id = newId();
    await service.createSession(id, data(userId));
    const from = log.lines.length;
    await own.dispatcher().command(['MULTI']);
    try {
      const unexpected = { code: 'ERR_UNEXPECTED_REPLY' };
      await expect(service.createSession(newId(), data(userId))).rejects.toMatchObject(unexpected);
      await expect(service.updateSession(id, { role: 'x' })).rejects.toMatchObject(unexpected);
      await expect(service.extendSession(id)).rejects.toMatchObject(unexpected);
      await expect(service.deleteSession(id)).rejects.toMatchObject(unexpected);
      await expect(service.rotateSession(id)).rejects.toMatchObject(unexpected);
      await expect(service.deleteUserSessions(userId)).rejects.toMatchObject(unexpected);
      expect(await service.getSession(id)).toBeNull();
      expect(await service.getActiveSessions(userId)).toEqual([]);
      const errors = log.lines.slice(from).filter((l) => l.level === 'error');
      expect(errors.map((l) => l.meta?.code)).toEqual(['ERR_UNEXPECTED_REPLY', 'ERR_UNEXPECTED_REPLY']);
    } finally {
      await own.dispatcher().command(['DISCARD']);
    }
    expect((await service.getSession(id))?.userId).toBe(userId);
    await own.close();
  });
});
