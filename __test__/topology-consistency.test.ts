/**
 * Guarantees that only show across processes: fencing tokens across a Sentinel
 * failover (including one whose replica lagged at the grant) and on a cluster's
 * replicas, and a cluster mset whose write fails in one slot group while the others commit.
 */
import { execFileSync } from 'node:child_process';
import {
  CacheService,
  LockService,
  RedisConnection,
  RedisLayerError,
  lockFenceKey,
  setLogger,
  defaultLogger,
} from '..';
import { recordingLogger, sleep, uniquePrefix } from './helpers/redis';
import {
  type Cluster,
  type SentinelSet,
  type TopologyNode,
  keySlot,
  startCluster,
  startSentinelSet,
} from './helpers/topology';

const log = recordingLogger();
beforeAll(() => setLogger(log.logger));
afterAll(() => setLogger(defaultLogger));

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The port of the server this connection's commands reach now. */
async function reachedPort(connection: RedisConnection): Promise<number> {
  const info = String(await connection.getClient().sendCommand(['INFO', 'server']));
  return Number(/tcp_port:(\d+)/.exec(info)?.[1]);
}

/** GET on a cluster replica: READONLY first, on the same connection. */
function readOnReplica(replica: TopologyNode, key: string): string {
  const out = execFileSync('redis-cli', ['-p', String(replica.port)], {
    input: `READONLY\nGET "${key}"\n`,
    encoding: 'utf8',
  });
  return out.trim().split('\n').slice(1).join('\n');
}

/** A grant on the current master, released at once: its fencing token. */
async function grant(locks: LockService, resource: string): Promise<number> {
  const lock = await locks.acquire(resource, 10_000);
  if (lock === null) throw new Error(`${resource} is held`);
  await lock.release();
  return lock.fencingToken;
}

describe('fencing tokens across a Sentinel failover', () => {
  let set: SentinelSet;
  let connection: RedisConnection;
  let locks: LockService;
  const p = uniquePrefix('fence');

  beforeAll(async () => {
    set = await startSentinelSet();
    connection = new RedisConnection({
      sentinel: { masterName: set.masterName, nodes: set.sentinelUrls },
      commandTimeoutMs: 5000,
    });
    await connection.connect();
    locks = new LockService(connection, { replicaTimeoutMs: 500 });
  }, 120_000);
  afterAll(async () => {
    await connection?.close();
    await set?.stop();
  });

  /** Waits until the sentinels and this connection agree on a master; resolves with it. */
  async function settled(): Promise<TopologyNode> {
    await set.waitHealthy(60_000);
    const master = await set.currentMasterNode();
    await until(
      `the connection to reach the master on ${master.port}`,
      async () => (await reachedPort(connection)) === master.port,
    );
    return master;
  }

  it('a grant after a failover gets a larger token than every grant before it', async () => {
    const resource = `${p}planned`;
    const before = await grant(locks, resource);
    const old = await settled();
    // The fence is on the replica the moment acquire resolved.
    const replica = set.nodes.find((n) => n !== old)!;
    expect(await replica.cmd('GET', lockFenceKey(resource))).toBe(String(before));
    await set.failover();
    const promoted = await settled();
    expect(promoted).not.toBe(old);
    expect(await grant(locks, resource)).toBeGreaterThan(before);
  }, 180_000);

  it('never hands out a token its replica lacks, so a failover after the master dies cannot go backwards', async () => {
    const resource = `${p}lagging`;
    const master = await settled();
    const replica = set.nodes.find((n) => n !== master)!;
    const handedOut = [await grant(locks, resource)];
    let error: unknown;

    // The replica stops reading and the master's replication stream is jammed behind a
    // large value, so nothing written from now on reaches the replica before the master dies.
    process.kill(replica.pid, 'SIGSTOP');
    let stopped = true;
    try {
      await master.cmd(
        'EVAL',
        "redis.call('SET', KEYS[1], string.rep('x', tonumber(ARGV[1]))) return 1",
        1,
        `${p}jam`,
        64 * 1024 * 1024,
      );
      // The old master's counter runs ahead of the new master's clock (a clock ahead, or a
      // burst of grants): the state in which a fence that never replicated lets tokens go back.
      const ahead = Date.now() * 1000 + 3_600_000_000_000;
      await master.cmd('SET', lockFenceKey(resource), String(ahead));
      error = await locks.acquire(resource, 10_000).then(
        (lock) => {
          if (lock) handedOut.push(lock.fencingToken);
          return undefined;
        },
        (e: unknown) => e,
      );
      await master.kill();
      process.kill(replica.pid, 'SIGCONT');
      stopped = false;
    } finally {
      if (stopped) process.kill(replica.pid, 'SIGCONT');
    }
    await until('the sentinels to promote the replica', async () => (await set.currentMaster()).port === replica.port);
    await until(
      'the connection to reach the promoted replica',
      async () => (await reachedPort(connection)) === replica.port,
    );
    // The grant made while the stream was jammed never reached the new master.
    expect(Number(await replica.cmd('GET', lockFenceKey(resource)))).toBe(handedOut[0]);
    const after = await grant(locks, resource);
    for (const token of handedOut) expect(after).toBeGreaterThan(token);
    // The grant during the jam was refused, not handed out.
    expect(handedOut).toHaveLength(1);
    expect(error).toBeInstanceOf(RedisLayerError);
    expect(error).toMatchObject({ code: 'ERR_NOT_REPLICATED' });

    await master.restart();
    await settled();
  }, 240_000);
});

describe('cluster: locks and mset', () => {
  let cluster: Cluster;
  let connection: RedisConnection;
  let cache: CacheService;
  const p = uniquePrefix('msetfail');

  beforeAll(async () => {
    cluster = await startCluster();
    connection = new RedisConnection({ cluster: { nodes: cluster.urls }, commandTimeoutMs: 500 });
    await connection.connect();
    cache = new CacheService(connection);
  }, 120_000);
  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  it("hands a lock out once the fence is on the replica of the lock's master", async () => {
    const locks = new LockService(connection, { replicaTimeoutMs: 1000 });
    for (const resource of [`${p}a`, `${p}b`, `${p}{c}`]) {
      const lock = await locks.acquire(resource, 10_000);
      const [replica] = await cluster.replicasOf(await cluster.nodeForKey(`lock:${resource}`));
      expect(readOnReplica(replica, lockFenceKey(resource))).toBe(String(lock!.fencingToken));
      expect(await lock!.release()).toBe(true);
    }
  });

  it.each([
    ['with a TTL (MULTI/EXEC per slot)', 300],
    ['without a TTL (MULTI/EXEC of SET per slot)', undefined],
  ])(
    '%s: answers false and leaves none of its keys written',
    async (_name, ttl) => {
      const keys = Array.from({ length: 30 }, (_, i) => `${p}${ttl ?? 0}:${i}`);
      const masters = await cluster.masters();
      const owners = await Promise.all(keys.map((key) => cluster.nodeForKey(key)));
      expect(new Set(owners.map((o) => o.port)).size).toBe(masters.length);
      expect(new Set(keys.map(keySlot)).size).toBeGreaterThan(masters.length);
      const paused = owners[0];
      const pausedKeys = keys.filter((_, i) => owners[i] === paused);
      const otherKeys = keys.filter((_, i) => owners[i] !== paused);
      // An old value on the paused node: it is deleted too (a miss, never a half-written call).
      await paused.cmd('SET', pausedKeys[0], '"old"');

      // One master takes no writes for 1.5 s: its slot groups time out while the others commit.
      await paused.cmd('CLIENT', 'PAUSE', 1500, 'WRITE');
      log.lines.length = 0;
      const pairs = Object.fromEntries(keys.map((key, i) => [key, { i }]));
      expect(await cache.mset(pairs, ttl)).toBe(false);
      expect(log.lines.some((l) => l.level === 'error' && l.message === 'Cache mset error')).toBe(true);
      // The other masters hold none of the values as soon as mset has answered.
      for (const key of otherKeys)
        expect([key, await cluster.nodeForKey(key).then((n) => n.cmd('EXISTS', key))]).toEqual([key, 0]);
      // After the pause, the paused master's delayed writes are undone as well.
      await sleep(2000);
      for (const key of keys)
        expect([key, await cluster.nodeForKey(key).then((n) => n.cmd('EXISTS', key))]).toEqual([key, 0]);

      // The same call succeeds and writes everything when every master takes writes.
      expect(await cache.mset(pairs, ttl)).toBe(true);
      expect(await cache.mget(keys)).toEqual(keys.map((_, i) => ({ i })));
    },
    60_000,
  );
});
