import { RedisConnection, SessionService, type SessionData, setLogger, defaultLogger, userSessionsKey } from '..';
import { recordingLogger, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

let server: TestServer;
let connection: RedisConnection;
let sessions: SessionService;
const log = recordingLogger();
const p = uniquePrefix('session');
let counter = 0;
const ids = () => {
  counter += 1;
  return { sessionId: `${p}s${counter}`, userId: `${p}u${counter}` };
};

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

const ttl = (key: string) => Number(server.cli('TTL', key));
const exists = (key: string) => server.cli('EXISTS', key) === '1';
const members = (userId: string) =>
  server.cli('ZRANGE', userSessionsKey(userId), '0', '-1').split('\n').filter(Boolean);

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

describe('SessionService storage (seed format and TTLs)', () => {
  it('stores the session as JSON text for 24 h, the latest id as a JSON string for 30 days, the index as long as its sessions', async () => {
    const { sessionId, userId } = ids();
    const session = data(userId);
    await sessions.createSession(sessionId, session);
    expect(server.cli('GET', `session:${sessionId}`)).toBe(JSON.stringify(session));
    expect(server.cli('GET', `user:${userId}:session`)).toBe(JSON.stringify(sessionId));
    expect(ttl(`session:${sessionId}`)).toBeGreaterThan(86_300);
    expect(ttl(`session:${sessionId}`)).toBeLessThanOrEqual(86_400);
    expect(ttl(`user:${userId}:session`)).toBeGreaterThan(2_591_900);
    expect(ttl(userSessionsKey(userId))).toBeGreaterThanOrEqual(ttl(`session:${sessionId}`));
    expect(ttl(userSessionsKey(userId))).toBeLessThanOrEqual(26 * 3_600);
  });

  it('getSession returns lastActivity as a Date, refreshes it and slides the expiry', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId));
    server.cli('EXPIRE', `session:${sessionId}`, '100');
    const before = Date.now();
    const got = await sessions.getSession(sessionId);
    expect(got).not.toBeNull();
    expect(got!.lastActivity).toBeInstanceOf(Date);
    expect(got!.lastActivity.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(got).toEqual({ ...data(userId), lastActivity: got!.lastActivity });
    expect(ttl(`session:${sessionId}`)).toBeGreaterThan(86_300);
    expect(JSON.parse(server.cli('GET', `session:${sessionId}`)).lastActivity).toBe(got!.lastActivity.toISOString());
  });

  it('keeps every other byte of the stored session: empty arrays, long numbers, escapes, nested objects', async () => {
    const { sessionId, userId } = ids();
    const session = {
      ...data(userId, { permissions: [] }),
      // biome-ignore lint/correctness/noPrecisionLoss: the stored text must keep digits a JS number cannot hold.
      big: 12345678901234567,
      ratio: 0.1,
      text: 'a/b "quoted" \\ \u00e9 \n',
      nested: { list: [[], {}, [1, { deep: '}' }]], empty: {} },
    };
    await sessions.createSession(sessionId, session);
    await sessions.updateSession<typeof session>(sessionId, { role: 'admin' });
    const stored = JSON.parse(server.cli('GET', `session:${sessionId}`));
    expect(stored).toEqual({
      ...JSON.parse(JSON.stringify(session)),
      role: 'admin',
      lastActivity: stored.lastActivity,
    });
    const got = await sessions.getSession<typeof session>(sessionId);
    expect(got!.permissions).toEqual([]);
    expect(got!.nested).toEqual(session.nested);
  });

  it('rewrites lastActivity and updated fields exactly as JSON.stringify({...stored, ...updates}) on awkward texts', async () => {
    const { userId } = ids();
    const texts = [
      { userId, lastActivity: 'old', role: 'user' },
      { nested: { lastActivity: 'inner', userId: 'someone-else' }, userId, lastActivity: 'outer' },
      { userId, note: 'mentions "lastActivity": and {[ braces', lastActivity: 'x' },
      { userId: `${userId}"\\`, lastActivity: 'y' },
      { userId },
      { userId, list: [[[]], { role: 'inner' }], lastActivity: null, role: 'user' },
      { escaped: 'a\\', userId, lastActivity: { deep: [1, { lastActivity: 2 }] } },
    ];
    for (const [index, stored] of texts.entries()) {
      const sessionId = `${p}awkward${index}`;
      server.cli('SET', `session:${sessionId}`, JSON.stringify(stored), 'EX', '100');
      const got = await sessions.getSession(sessionId);
      const afterGet = server.cli('GET', `session:${sessionId}`);
      expect(afterGet).toBe(JSON.stringify({ ...stored, lastActivity: got!.lastActivity }));
      expect(await sessions.updateSession(sessionId, { role: 'admin' })).toBe(true);
      const updated = JSON.parse(server.cli('GET', `session:${sessionId}`));
      expect(server.cli('GET', `session:${sessionId}`)).toBe(
        JSON.stringify({ ...JSON.parse(afterGet), lastActivity: updated.lastActivity, role: 'admin' }),
      );
    }
  });

  it('reads sessions written by the seed (its JSON text, its pointer, no index)', async () => {
    const { sessionId, userId } = ids();
    const seedSession = JSON.stringify(data(userId));
    server.cli('SET', `session:${sessionId}`, seedSession, 'EX', '86400');
    server.cli('SET', `user:${userId}:session`, JSON.stringify(sessionId), 'EX', '2592000');
    expect((await sessions.getSession(sessionId))?.username).toBe('ada');
    const active = await sessions.getActiveSessions(userId);
    expect(active.map((s) => s.userId)).toEqual([userId]);
    expect(members(userId)).toEqual([sessionId]);
  });

  it('generateSessionId gives unique URL-safe ids of at least 128 bits', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = sessions.generateSessionId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });
});

describe('SessionService updates', () => {
  it('updateSession merges fields server-side and never creates a missing session', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId));
    expect(await sessions.updateSession(sessionId, { role: 'admin', permissions: ['read', 'write'] })).toBe(true);
    const got = await sessions.getSession(sessionId);
    expect(got).toMatchObject({ role: 'admin', permissions: ['read', 'write'], email: 'ada@example.com' });
    expect(await sessions.updateSession(`${sessionId}-missing`, { role: 'admin' })).toBe(false);
    expect(exists(`session:${sessionId}-missing`)).toBe(false);
  });

  it('hundreds of interleaved updateSession/getSession calls keep every field', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId));
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      calls.push(sessions.updateSession<Record<string, unknown> & SessionData>(sessionId, { [`f${i}`]: i }));
      if (i % 3 === 0) calls.push(sessions.getSession(sessionId));
    }
    await Promise.all(calls);
    const got = (await sessions.getSession(sessionId)) as unknown as Record<string, unknown>;
    for (let i = 0; i < 300; i++) expect(got[`f${i}`]).toBe(i);
    expect(got.email).toBe('ada@example.com');
  });

  it('refuses to move a session to another user through updateSession', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId));
    await expect(sessions.updateSession(sessionId, { userId: 'someone-else' })).rejects.toThrow(RangeError);
    await expect(sessions.updateSession(sessionId, { userId, role: 'x' })).resolves.toBe(true);
    expect((await sessions.getSession(sessionId))?.userId).toBe(userId);
  });

  it('extendSession restarts the 24 h expiry of a live session only', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId));
    server.cli('EXPIRE', `session:${sessionId}`, '50');
    expect(await sessions.extendSession(sessionId)).toBe(true);
    expect(ttl(`session:${sessionId}`)).toBeGreaterThan(86_300);
    expect(await sessions.extendSession(`${sessionId}-missing`)).toBe(false);
  });

  it("a session that keeps sliding keeps its user's index alive", async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId));
    server.cli('EXPIRE', userSessionsKey(userId), '60');
    server.cli('EXPIRE', `session:${sessionId}`, '60');
    await new SessionService(connection).getSession(sessionId);
    for (let i = 0; i < 50 && ttl(userSessionsKey(userId)) <= 60; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ttl(userSessionsKey(userId))).toBeGreaterThanOrEqual(ttl(`session:${sessionId}`));
    expect(ttl(`session:${sessionId}`)).toBeGreaterThan(86_300);
  });
});

describe('SessionService multi-session', () => {
  it('a user holds several sessions; getActiveSessions returns all live ones and prunes expired ids', async () => {
    const { userId } = ids();
    const [phone, laptop, tablet] = ['phone', 'laptop', 'tablet'].map((d) => `${p}${userId}-${d}`);
    await sessions.createSession(phone, data(userId, { userAgent: 'phone' }));
    await sessions.createSession(laptop, data(userId, { userAgent: 'laptop' }));
    await sessions.createSession(tablet, data(userId, { userAgent: 'tablet' }));
    expect((await sessions.getActiveSessions(userId)).map((s) => s.userAgent).sort()).toEqual([
      'laptop',
      'phone',
      'tablet',
    ]);

    server.cli('PEXPIRE', `session:${laptop}`, '1');
    await new Promise((r) => setTimeout(r, 20));
    const active = await sessions.getActiveSessions(userId);
    expect(active.map((s) => s.userAgent).sort()).toEqual(['phone', 'tablet']);
    expect(active[0].lastActivity).toBeInstanceOf(Date);
    expect(members(userId).sort()).toEqual([phone, tablet].sort());
  });

  it('does not list a session id that now belongs to another user', async () => {
    const { sessionId, userId } = ids();
    const other = `${userId}-other`;
    await sessions.createSession(sessionId, data(userId));
    await sessions.createSession(sessionId, data(other));
    expect(await sessions.getActiveSessions(userId)).toEqual([]);
    expect((await sessions.getActiveSessions(other)).map((s) => s.userId)).toEqual([other]);
  });

  it("deleteUserSessions deletes every session of the user, including one the seed created, and no one else's", async () => {
    const { userId } = ids();
    const mine = [1, 2, 3].map((n) => `${p}${userId}-${n}`);
    for (const id of mine) await sessions.createSession(id, data(userId));
    const seedMade = `${p}${userId}-seed`;
    server.cli('SET', `session:${seedMade}`, JSON.stringify(data(userId)), 'EX', '86400');
    server.cli('SET', `user:${userId}:session`, JSON.stringify(seedMade), 'EX', '2592000');
    const { sessionId: theirs, userId: otherUser } = ids();
    await sessions.createSession(theirs, data(otherUser));

    expect(await sessions.deleteUserSessions(userId)).toBe(4);
    for (const id of [...mine, seedMade]) expect(exists(`session:${id}`)).toBe(false);
    expect(exists(`user:${userId}:session`)).toBe(false);
    expect(exists(userSessionsKey(userId))).toBe(false);
    expect(await sessions.getActiveSessions(userId)).toEqual([]);
    expect(await sessions.getSession(theirs)).not.toBeNull();
  });

  it('deleteSession removes one session, its index entry, and repoints the latest-session pointer', async () => {
    const { userId } = ids();
    const [first, second] = [`${p}${userId}-a`, `${p}${userId}-b`];
    await sessions.createSession(first, data(userId));
    await sessions.createSession(second, data(userId));
    expect(await sessions.deleteSession(second)).toBe(true);
    expect(exists(`session:${second}`)).toBe(false);
    expect(members(userId)).toEqual([first]);
    expect(server.cli('GET', `user:${userId}:session`)).toBe(JSON.stringify(first));
    expect(await sessions.deleteSession(second)).toBe(false);
    expect(await sessions.deleteSession(first)).toBe(true);
    expect(exists(`user:${userId}:session`)).toBe(false);
  });
});

describe('SessionService races and rotation', () => {
  it('an update in flight during deleteSession never resurrects the session', async () => {
    for (let round = 0; round < 5; round++) {
      const { sessionId, userId } = ids();
      await sessions.createSession(sessionId, data(userId));
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) {
        calls.push(sessions.updateSession(sessionId, { role: `r${i}` }));
        calls.push(sessions.getSession(sessionId));
        if (i === 25) calls.push(sessions.deleteSession(sessionId));
      }
      await Promise.all(calls);
      expect(exists(`session:${sessionId}`)).toBe(false);
      expect(await sessions.getSession(sessionId)).toBeNull();
      expect(members(userId)).toEqual([]);
    }
  });

  it('updates in flight during deleteUserSessions never resurrect any session', async () => {
    const { userId } = ids();
    const all = [1, 2, 3, 4].map((n) => `${p}${userId}-${n}`);
    for (const id of all) await sessions.createSession(id, data(userId));
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      for (const id of all) calls.push(sessions.updateSession(id, { role: `r${i}` }));
      if (i === 10) calls.push(sessions.deleteUserSessions(userId));
    }
    await Promise.all(calls);
    for (const id of all) expect(exists(`session:${id}`)).toBe(false);
    expect(await sessions.getActiveSessions(userId)).toEqual([]);
  });

  it('every update acknowledged on the old id while rotateSession runs reaches the new id', async () => {
    type Tagged = SessionData & Record<string, unknown>;
    for (let round = 0; round < 5; round++) {
      const { sessionId, userId } = ids();
      await sessions.createSession(sessionId, data(userId));
      const updates: Array<Promise<boolean>> = [];
      let rotation: Promise<string | null> = Promise.resolve(null);
      for (let i = 0; i < 40; i++) {
        updates.push(sessions.updateSession<Tagged>(sessionId, { [`f${i}`]: i }));
        if (i === 5) rotation = sessions.rotateSession(sessionId);
      }
      const [newId, acked] = await Promise.all([rotation, Promise.all(updates)]);
      expect(newId).toEqual(expect.any(String));
      const moved = await sessions.getSession<Tagged>(newId!);
      acked.forEach((ok, i) => {
        if (ok) expect(moved?.[`f${i}`]).toBe(i);
      });
      expect(exists(`session:${sessionId}`)).toBe(false);
      expect(members(userId)).toEqual([newId]);
    }
  });

  it('a logout racing rotateSession wins: no session survives it, none is left unindexed', async () => {
    for (let round = 0; round < 10; round++) {
      const { sessionId, userId } = ids();
      await sessions.createSession(sessionId, data(userId));
      const [newId, loggedOut] = await Promise.all([
        sessions.rotateSession(sessionId),
        sessions.deleteSession(sessionId),
      ]);
      const live = await sessions.getActiveSessions(userId);
      if (loggedOut) {
        expect(newId).toBeNull();
        expect(live).toEqual([]);
        expect(members(userId)).toEqual([]);
      } else {
        expect(live).toHaveLength(1);
        expect(members(userId)).toEqual([newId]);
      }
    }
  });

  it('rotateSession moves the session to a new id with its data, TTL, index entry and pointer', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId, { role: 'guest' }));
    server.cli('EXPIRE', `session:${sessionId}`, '5000');
    const newId = await sessions.rotateSession(sessionId);
    expect(newId).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(newId).not.toBe(sessionId);
    expect(await sessions.getSession(sessionId)).toBeNull();
    expect(exists(`session:${sessionId}`)).toBe(false);
    expect(ttl(`session:${newId}`)).toBeGreaterThan(4_900);
    expect(ttl(`session:${newId}`)).toBeLessThanOrEqual(5_000);
    expect(members(userId)).toEqual([newId]);
    expect(server.cli('GET', `user:${userId}:session`)).toBe(JSON.stringify(newId));
    expect((await sessions.getSession(newId!))?.role).toBe('guest');
    expect(await sessions.updateSession(sessionId, { role: 'admin' })).toBe(false);
    expect(exists(`session:${sessionId}`)).toBe(false);
    expect(await sessions.rotateSession(`${sessionId}-missing`)).toBeNull();
  });
});

describe('SessionService arguments and outages', () => {
  it('rejects bad arguments with errors that name them', async () => {
    await expect(sessions.createSession(42 as unknown as string, data('u'))).rejects.toThrow(
      /sessionId must be a string/,
    );
    await expect(sessions.createSession('x', {} as SessionData)).rejects.toThrow(/sessionData.userId must be a string/);
    await expect(sessions.updateSession('x', null as unknown as Partial<SessionData>)).rejects.toThrow(TypeError);
    await expect(sessions.getSession(undefined as unknown as string)).rejects.toThrow(TypeError);
  });

  it('reads fail soft (null, []) and writes reject with a code when Redis is not connected', async () => {
    const offline = new SessionService(new RedisConnection({ url: server.url }));
    expect(await offline.getSession('x')).toBeNull();
    expect(await offline.getActiveSessions('u')).toEqual([]);
    await expect(offline.createSession('x', data('u'))).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
    await expect(offline.deleteSession('x')).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
    expect(log.text()).toMatch(/Session get error/);
  });
});

describe('getSession and activityResolutionMs', () => {
  const commandCalls = (name: string) =>
    Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(server.cli('INFO', 'commandstats'))?.[1] ?? 0);

  it('reads a recently active session with one GETEX: expiry slid, stored text untouched', async () => {
    const { sessionId, userId } = ids();
    const recent = data(userId, { lastActivity: new Date(Date.now() - 5_000) });
    await sessions.createSession(sessionId, recent);
    server.cli('PEXPIRE', `session:${sessionId}`, '60000');
    const before = { getex: commandCalls('getex'), evalsha: commandCalls('evalsha') };
    const got = await sessions.getSession(sessionId);
    expect(got).toEqual(recent);
    expect(got?.lastActivity).toBeInstanceOf(Date);
    expect(server.cli('GET', `session:${sessionId}`)).toBe(JSON.stringify(recent));
    expect(ttl(`session:${sessionId}`)).toBeGreaterThan(86_300);
    expect(commandCalls('getex') - before.getex).toBe(1);
    expect(commandCalls('evalsha') - before.evalsha).toBe(0);
  });

  it('rewrites lastActivity once it is older than the resolution, merging server-side', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId, { lastActivity: new Date(Date.now() - 61_000) }));
    const started = Date.now();
    const got = await sessions.getSession(sessionId);
    expect(got?.lastActivity.getTime()).toBeGreaterThanOrEqual(started - 5);
    const stored = JSON.parse(server.cli('GET', `session:${sessionId}`));
    expect(Date.parse(stored.lastActivity)).toBe(got?.lastActivity.getTime());
    expect(stored.role).toBe('user');
  });

  it('with 0 rewrites on every read, as the seed', async () => {
    const seedLike = new SessionService(connection, { activityResolutionMs: 0 });
    const { sessionId, userId } = ids();
    await seedLike.createSession(sessionId, data(userId, { lastActivity: new Date() }));
    const first = await seedLike.getSession(sessionId);
    await new Promise((r) => setTimeout(r, 5));
    const second = await seedLike.getSession(sessionId);
    expect(second?.lastActivity.getTime()).toBeGreaterThan(first?.lastActivity.getTime() ?? Number.NaN);
    expect(Date.parse(JSON.parse(server.cli('GET', `session:${sessionId}`)).lastActivity)).toBe(
      second?.lastActivity.getTime(),
    );
  });

  it('never brings back a deleted session, and keeps a concurrent update', async () => {
    const { sessionId, userId } = ids();
    await sessions.createSession(sessionId, data(userId, { lastActivity: new Date(Date.now() - 120_000) }));
    const [updated, read] = await Promise.all([
      sessions.updateSession(sessionId, { role: 'admin' }),
      sessions.getSession(sessionId),
    ]);
    expect(updated).toBe(true);
    expect(read?.userId).toBe(userId);
    expect(JSON.parse(server.cli('GET', `session:${sessionId}`)).role).toBe('admin');
    server.cli('DEL', `session:${sessionId}`);
    expect(await sessions.getSession(sessionId)).toBeNull();
    expect(exists(`session:${sessionId}`)).toBe(false);
  });

  it('rejects a resolution that is not a non-negative number of ms', () => {
    expect(() => new SessionService(connection, { activityResolutionMs: -1 })).toThrow(RangeError);
    expect(() => new SessionService(connection, { activityResolutionMs: Number.NaN })).toThrow(/activityResolutionMs/);
  });
});
