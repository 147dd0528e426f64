import { Lock, LockService, RedisConnection, RedisLayerError, setLogger, defaultLogger, lockFenceKey } from '..';
import {
  recordingLogger,
  sleep,
  startRedis,
  testRedis,
  type TestServer,
  uniquePrefix,
  waitUntil,
} from './helpers/redis';

let server: TestServer;
let first: RedisConnection;
let second: RedisConnection;
let locksA: LockService;
let locksB: LockService;
const log = recordingLogger();
const p = uniquePrefix('lock');
let counter = 0;
const resource = () => `${p}r${++counter}`;

beforeAll(async () => {
  server = await testRedis();
  first = new RedisConnection({ url: server.url });
  second = new RedisConnection({ url: server.url });
  await Promise.all([first.connect(), second.connect()]);
  locksA = new LockService(first);
  locksB = new LockService(second);
  setLogger(log.logger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await Promise.all([first.close(), second.close()]);
  await server.stop();
});

describe('LockService acquire/release', () => {
  it('one holder at a time across two connections; release lets the other in', async () => {
    const name = resource();
    const held = await locksA.acquire(name, 10_000);
    expect(held).toBeInstanceOf(Lock);
    expect(held!.resource).toBe(name);
    expect(server.cli('GET', `lock:${name}`)).toBe(held!.token);
    expect(await locksB.acquire(name, 10_000)).toBeNull();

    const waiting = locksB.acquire(name, 10_000, { waitMs: 5_000 });
    await sleep(100);
    expect(await held!.release()).toBe(true);
    const next = await waiting;
    expect(next).not.toBeNull();
    expect(next!.fencingToken).toBeGreaterThan(held!.fencingToken);
    expect(await next!.release()).toBe(true);
    expect(server.cli('EXISTS', `lock:${name}`)).toBe('0');
  });

  it('waitMs gives up with null when the holder keeps the lock', async () => {
    const name = resource();
    const held = await locksA.acquire(name, 10_000);
    expect(await locksB.acquire(name, 10_000, { waitMs: 150 })).toBeNull();
    await held!.release();
  });

  it('an expired lock can be taken; the old holder can then neither release nor extend it', async () => {
    const name = resource();
    const old = await locksA.acquire(name, 150);
    expect(old).not.toBeNull();
    await sleep(250);
    const current = await locksB.acquire(name, 10_000);
    expect(current).not.toBeNull();
    expect(await old!.release()).toBe(false);
    expect(await old!.extend(10_000)).toBe(false);
    expect(server.cli('GET', `lock:${name}`)).toBe(current!.token);
    expect(current!.fencingToken).toBeGreaterThan(old!.fencingToken);
    await current!.release();
  });

  it('a handle with the wrong token cannot release or extend the lock', async () => {
    const name = resource();
    const held = await locksA.acquire(name, 10_000);
    const impostor = new Lock(second, name, 'not-the-token', held!.fencingToken);
    expect(await impostor.release()).toBe(false);
    expect(await impostor.extend(60_000)).toBe(false);
    expect(server.cli('GET', `lock:${name}`)).toBe(held!.token);
    expect(await held!.release()).toBe(true);
    expect(await held!.release()).toBe(false);
  });

  it('extend sets the remaining time for the holder', async () => {
    const name = resource();
    const held = await locksA.acquire(name, 300);
    expect(await held!.extend(20_000)).toBe(true);
    expect(Number(server.cli('PTTL', `lock:${name}`))).toBeGreaterThan(19_000);
    await sleep(400);
    expect(await locksB.acquire(name, 1_000)).toBeNull();
    await held!.release();
  });

  it('fencing tokens grow with every grant, across connections and after the fence state expired', async () => {
    const name = resource();
    const tokens: number[] = [];
    for (let i = 0; i < 10; i++) {
      const lock = await (i % 2 ? locksA : locksB).acquire(name, 10_000);
      tokens.push(lock!.fencingToken);
      await lock!.release();
    }
    expect(server.cli('DEL', lockFenceKey(name))).toBe('1');
    const after = await locksA.acquire(name, 10_000);
    tokens.push(after!.fencingToken);
    await after!.release();
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
    expect(tokens.every(Number.isSafeInteger)).toBe(true);
  });
});

describe('LockService withLock', () => {
  it('serialises critical sections from two connections', async () => {
    const name = resource();
    let shared = 0;
    let inside = 0;
    let overlap = false;
    const section = async () => {
      inside += 1;
      if (inside > 1) overlap = true;
      const read = shared;
      await sleep(5);
      shared = read + 1;
      inside -= 1;
    };
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? locksA : locksB).withLock(name, 5_000, section, { waitMs: 20_000 }),
      ),
    );
    expect(overlap).toBe(false);
    expect(shared).toBe(20);
    expect(server.cli('EXISTS', `lock:${name}`)).toBe('0');
  });

  it('returns what fn returns, hands fn the lock, and releases afterwards', async () => {
    const name = resource();
    const result = await locksA.withLock(name, 5_000, (lock) => {
      expect(server.cli('GET', `lock:${name}`)).toBe(lock.token);
      return 'done';
    });
    expect(result).toBe('done');
    expect(server.cli('EXISTS', `lock:${name}`)).toBe('0');
  });

  it('releases when fn throws and rethrows the same error', async () => {
    const name = resource();
    const boom = new Error('boom');
    await expect(
      locksA.withLock(name, 5_000, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(server.cli('EXISTS', `lock:${name}`)).toBe('0');
  });

  it('rejects with ERR_LOCK_BUSY when the lock cannot be had', async () => {
    const name = resource();
    const held = await locksA.acquire(name, 10_000);
    const fn = jest.fn();
    const error = await locksB.withLock(name, 1_000, fn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisLayerError);
    expect(error).toMatchObject({ code: 'ERR_LOCK_BUSY' });
    expect(fn).not.toHaveBeenCalled();
    await held!.release();
  });
});

describe('LockService arguments and outages', () => {
  it('rejects bad arguments with errors that name them', async () => {
    await expect(locksA.acquire(resource(), 0)).rejects.toThrow(/ttlMs/);
    await expect(locksA.acquire(resource(), Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
    await expect(locksA.acquire(undefined as unknown as string, 1000)).rejects.toThrow(/resource must be a string/);
    await expect(locksA.acquire(resource(), 1000, { waitMs: -1 })).rejects.toThrow(/waitMs/);
    await expect(locksA.withLock(resource(), 1000, 'nope' as unknown as () => void)).rejects.toThrow(
      /fn must be a function/,
    );
  });

  it('rejects (never grants) while Redis is down', async () => {
    const owned = await startRedis();
    const connection = new RedisConnection({ url: owned.url, reconnectDelayMs: 1000 });
    let killed = false;
    try {
      await connection.connect();
      const locks = new LockService(connection);
      const held = await locks.acquire('r', 10_000);
      expect(held).not.toBeNull();
      await owned.kill();
      killed = true;
      await expect(locks.acquire('r2', 10_000)).rejects.toBeInstanceOf(RedisLayerError);
      await expect(held!.release()).rejects.toBeInstanceOf(RedisLayerError);
    } finally {
      await connection.close();
      // The helper's stop() after kill() waits for an exit that already happened.
      if (!killed) await owned.stop();
    }
    await expect(new LockService(new RedisConnection()).acquire('r', 1000)).rejects.toMatchObject({
      code: 'ERR_NOT_CONNECTED',
    });
  });
});

describe('LockService replies and replicas', () => {
  it('rejects (never a NaN or unsafe token) and releases the lock when the fence reply is not a safe integer', async () => {
    const name = resource();
    // A fence far beyond 2^53: Lua formats it as a long digit string that no JS number holds exactly.
    server.cli('SET', lockFenceKey(name), '1e300');
    const error = await locksA.acquire(name, 10_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisLayerError);
    expect(error).toMatchObject({ code: 'ERR_UNEXPECTED_REPLY', message: expect.stringMatching(/lock acquire/) });
    expect(server.cli('EXISTS', `lock:${name}`)).toBe('0');
    server.cli('DEL', lockFenceKey(name));
    const lock = await locksA.acquire(name, 10_000);
    expect(Number.isSafeInteger(lock!.fencingToken)).toBe(true);
    await lock!.release();
  });

  it('sends no WAIT when the server has no replica', async () => {
    const before = commandCalls('wait');
    const lock = await locksA.acquire(resource(), 10_000);
    await lock!.release();
    expect(commandCalls('wait')).toBe(before);
  });

  it('hands a lock out only once every online replica has its fence; a stalled replica makes acquire reject and release', async () => {
    const master = await startRedis({ extraArgs: ['--repl-diskless-sync-delay', '0'] });
    const replica = await startRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    const connection = new RedisConnection({ url: master.url, commandTimeoutMs: 5000 });
    const replicaPid = Number(/process_id:(\d+)/.exec(replica.cli('INFO', 'server'))?.[1]);
    try {
      await waitUntil(() => /state=online/.test(master.cli('INFO', 'replication')), 'the replica online', 10_000);
      await connection.connect();
      // A healthy replica acknowledges well within 5 s however loaded the machine; the stalled one gets 500 ms.
      const locks = new LockService(connection, { replicaTimeoutMs: 5000 });
      const impatient = new LockService(connection, { replicaTimeoutMs: 500 });
      const lock = await locks.acquire('replicated', 10_000);
      // WAIT returned: the replica has this grant's fence already.
      expect(replica.cli('GET', lockFenceKey('replicated'))).toBe(String(lock!.fencingToken));
      expect(await lock!.release()).toBe(true);

      process.kill(replicaPid, 'SIGSTOP');
      let stopped = true;
      try {
        const started = Date.now();
        const error = await impatient.acquire('stalled', 10_000).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RedisLayerError);
        expect(error).toMatchObject({ code: 'ERR_NOT_REPLICATED', message: expect.stringMatching(/0 of 1 replicas/) });
        expect(Date.now() - started).toBeGreaterThanOrEqual(450);
        expect(master.cli('EXISTS', 'lock:stalled')).toBe('0');
        process.kill(replicaPid, 'SIGCONT');
        stopped = false;
        const after = await locks.acquire('stalled', 10_000);
        expect(after).not.toBeNull();
        await after!.release();

        // A replica that is offline at the grant is not waited for, unless waitForReplicas counts it.
        process.kill(replicaPid, 'SIGSTOP');
        stopped = true;
        master.cli('CLIENT', 'KILL', 'TYPE', 'replica');
        await waitUntil(() => /connected_slaves:0/.test(master.cli('INFO', 'replication')), 'no replica', 10_000);
        const unwaited = await locks.acquire('offline', 10_000);
        expect(unwaited).not.toBeNull();
        await unwaited!.release();
        const counted = new LockService(connection, { waitForReplicas: 1, replicaTimeoutMs: 300 });
        await expect(counted.acquire('offline', 10_000)).rejects.toMatchObject({ code: 'ERR_NOT_REPLICATED' });
        expect(master.cli('EXISTS', 'lock:offline')).toBe('0');
      } finally {
        if (stopped) process.kill(replicaPid, 'SIGCONT');
      }
      expect(() => new LockService(connection, { replicaTimeoutMs: 0 })).toThrow(RangeError);
      expect(() => new LockService(connection, { waitForReplicas: -1 })).toThrow(/waitForReplicas/);
      expect(() => new LockService(connection, { replicaTimeoutMs: 1.5 })).toThrow(/replicaTimeoutMs/);
      expect(() => new LockService(connection, 'x' as never)).toThrow(TypeError);
    } finally {
      await connection.close();
      await replica.stop();
      await master.stop();
    }
  }, 30_000);
});

function commandCalls(name: string): number {
  const match = server.cli('INFO', 'commandstats').match(new RegExp(`cmdstat_${name}:calls=(\\d+)`));
  return match ? Number(match[1]) : 0;
}

describe('LockService.using: a lock that extends itself while its callback runs', () => {
  const busy = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // A long synchronous task: this thread runs nothing else meanwhile.
    }
  };
  const lostReason = (signal: AbortSignal) => signal.reason as RedisLayerError;

  it('keeps the lock past its TTL while the callback works, then releases it', async () => {
    const name = resource();
    let aborted = false;
    const result = await locksA.using(name, 300, async (signal, lock) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      for (let i = 0; i < 10; i++) {
        await sleep(100);
        expect(await locksB.acquire(name, 1_000)).toBeNull();
        expect(Number(server.cli('PTTL', `lock:${name}`))).toBeGreaterThan(0);
      }
      expect(server.cli('GET', `lock:${name}`)).toBe(lock.token);
      return 'done';
    });
    expect(result).toBe('done');
    expect(aborted).toBe(false);
    expect(server.cli('EXISTS', `lock:${name}`)).toBe('0');
  });

  it('aborts the signal before a successor is seen when the thread was blocked past the TTL', async () => {
    const name = resource();
    const events: string[] = [];
    let first = 0;
    let successorToken = 0;
    await locksA.using(name, 300, async (signal, lock) => {
      first = lock.fencingToken;
      signal.addEventListener('abort', () => events.push('aborted'));
      busy(600);
      // The lock lapsed while this thread was blocked: a successor can take it now.
      const successor = await locksB.acquire(name, 5_000);
      events.push('successor granted');
      expect(successor).not.toBeNull();
      successorToken = successor?.fencingToken ?? 0;
      expect(signal.aborted).toBe(true);
      expect(lostReason(signal).code).toBe('ERR_LOCK_LOST');
      await successor?.release();
    });
    expect(events).toEqual(['aborted', 'successor granted']);
    expect(successorToken).toBeGreaterThan(first);
  });

  it('aborts before the lock could expire when Redis stops answering its extends (DEBUG SLEEP)', async () => {
    const name = resource();
    const watcher = new RedisConnection({ url: server.url, commandTimeoutMs: 5_000 });
    await watcher.connect();
    try {
      let abortedAfter = -1;
      await locksA.using(
        name,
        600,
        async (signal) => {
          const started = Date.now();
          await sleep(250); // one extend done, at ~200 ms
          const sleeping = watcher.getClient().sendCommand(['DEBUG', 'SLEEP', '1.5']);
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
          abortedAfter = Date.now() - started;
          await sleeping;
        },
        { safetyMarginMs: 150 },
      );
      // Confirmed until about 200 + 600 ms: the signal aborts 150 ms before that, while Redis still sleeps.
      expect(abortedAfter).toBeGreaterThan(400);
      expect(abortedAfter).toBeLessThan(700);
    } finally {
      await watcher.close();
    }
  });

  it('aborts at once when an extend finds the lock taken over', async () => {
    const name = resource();
    const reasons: string[] = [];
    await locksA.using(name, 400, async (signal) => {
      server.cli('DEL', `lock:${name}`);
      const thief = await locksB.acquire(name, 5_000);
      expect(thief).not.toBeNull();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      reasons.push(lostReason(signal).message);
      expect(server.cli('GET', `lock:${name}`)).toBe(thief?.token);
      await thief?.release();
    });
    expect(reasons).toEqual([expect.stringMatching(/was lost: it expired or was taken over/)]);
  });

  it('rethrows what the callback throws and releases; rejects ERR_LOCK_BUSY and bad arguments', async () => {
    const name = resource();
    await expect(
      locksA.using(name, 1_000, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(server.cli('EXISTS', `lock:${name}`)).toBe('0');

    const held = await locksB.acquire(name, 5_000);
    await expect(locksA.using(name, 1_000, () => 1)).rejects.toMatchObject({ code: 'ERR_LOCK_BUSY' });
    await held?.release();

    await expect(locksA.using(name, 1_000, 'nope' as never)).rejects.toThrow(/fn must be a function, got string/);
    await expect(locksA.using(name, 1_000, () => 1, { safetyMarginMs: 1_000 })).rejects.toThrow(
      /options\.safetyMarginMs must be less than ttlMs \(1000\), got 1000/,
    );
    await expect(locksA.using(name, -5, () => 1)).rejects.toThrow(/ttlMs/);
  });
});
