/**
 * Fault injection under a steady mixed load of every service, for each mode
 * (standalone with AOF, TLS, Sentinel, Cluster): kill -9 and restart, CLIENT KILL,
 * DEBUG SLEEP past commandTimeoutMs, maxmemory with noeviction, failover.
 * Each case records soft failures, rejections, the longest call and the time until
 * healthy again (printed as a table), and asserts: no unhandled rejection, no call
 * hanging past its timeouts, acknowledged session writes kept, rate-limit exactness
 * after recovery.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CacheService,
  LockService,
  MessageBroker,
  RateLimiter,
  RedisConnection,
  type RedisConnectionOptions,
  SessionService,
  setLogger,
  defaultLogger,
} from '..';
import { sessionFor, sleep, startRedis, uniquePrefix } from './helpers/redis';
import { startCluster, startSentinelSet, startTlsServer, type TopologyNode } from './helpers/topology';

const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 1000;
/** A call is a handful of round trips at most; each is bounded by commandTimeoutMs. */
const LONGEST_ALLOWED_MS = 6 * COMMAND_TIMEOUT_MS + CONNECT_TIMEOUT_MS;

interface Mode {
  options: RedisConnectionOptions;
  /** Replicated modes acknowledge session writes once a replica has them (WAIT). */
  replicas: number;
  /** Masters to aim server-side faults at. */
  masters(): Promise<TopologyNode[]>;
  kill(): Promise<void>;
  /** Whether kill -9 loses acknowledged writes by design of the server (no persistence, no replica). */
  killLosesWrites: boolean;
  failover?(): Promise<void>;
  /** Waits until the topology has settled (a fault may have started a failover of its own). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

interface Row {
  mode: string;
  fault: string;
  calls: number;
  soft: number;
  rejected: number;
  longestMs: number;
  recoveryMs: number;
  lostAcked: number;
}

const rows: Row[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  setLogger({ debug() {}, info() {}, warn() {}, error() {} });
});

afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  setLogger(defaultLogger);
  const header =
    '| mode | fault | calls | failed soft | rejected | longest call (ms) | healthy again after (ms) | acked session writes lost |';
  const lines = rows.map(
    (r) =>
      `| ${r.mode} | ${r.fault} | ${r.calls} | ${r.soft} | ${r.rejected} | ${r.longestMs.toFixed(0)} | ${r.recoveryMs.toFixed(0)} | ${r.lostAcked} |`,
  );
  const table = [header, '|---|---|---:|---:|---:|---:|---:|---:|', ...lines].join('\n');
  fs.mkdirSync(path.join(__dirname, '..', 'target'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, '..', 'target', 'fault-results.md'), `${table}\n`);
  process.stdout.write(`\n${table}\n`);
});

function startLoad(connection: RedisConnection, prefix: string, replicas: number) {
  const cache = new CacheService(connection);
  // Each worker logs one user in again and again; the per-user device cap is not what this suite tests.
  const sessions = new SessionService(connection, {
    waitForReplicas: replicas,
    replicaTimeoutMs: 200,
    maxSessionsPerUser: 1_000_000,
  });
  const limiter = new RateLimiter(connection);
  const locks = new LockService(connection);
  const broker = new MessageBroker(connection);
  const stats = { calls: 0, soft: 0, rejected: 0, longestMs: 0 };
  const acked = new Map<string, string>();
  let running = true;
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      try {
        switch (i % 6) {
          case 0:
            if (!(await cache.set(`${prefix}c${w}:${i % 50}`, { w, i }, 60))) stats.soft++;
            break;
          case 1:
            await cache.get(`${prefix}c${w}:${i % 50}`);
            break;
          case 2: {
            const id = `${prefix}s${w}:${i}`;
            await sessions.createSession(id, {
              userId: `${prefix}u${w}`,
              email: 'e@x',
              username: 'u',
              role: `r${i}`,
              permissions: ['p'],
              lastActivity: new Date(),
              ipAddress: '127.0.0.1',
              userAgent: 'fault-suite',
            });
            acked.set(id, `r${i}`);
            break;
          }
          case 3:
            if ((await limiter.checkLimit(`${prefix}ip${w}`, 'load', { windowMs: 1000, maxRequests: 1000 })).degraded)
              stats.soft++;
            break;
          case 4:
            await locks.withLock(`${prefix}lock${w}`, 2000, async () => undefined);
            break;
          default:
            await broker.publish(`${prefix}events`, { type: 'load', data: { w, i } });
        }
      } catch {
        stats.rejected++;
      }
      stats.calls++;
      stats.longestMs = Math.max(stats.longestMs, performance.now() - started);
      await sleep(2);
    }
  };
  const workers = Array.from({ length: 6 }, (_, w) => worker(w));
  return {
    stats,
    acked,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

async function untilHealthy(connection: RedisConnection, prefix: string): Promise<number> {
  const started = performance.now();
  const cache = new CacheService(connection);
  const sessions = new SessionService(connection);
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline) {
    const cached = await cache.set(`${prefix}probe`, 1, 60);
    const session = await sessions.createSession(`${prefix}probe`, sessionFor(`${prefix}probe`)).then(
      () => true,
      () => false,
    );
    if (cached && session) return performance.now() - started;
    await sleep(50);
  }
  throw new Error('the load never became healthy again');
}

async function lostAcknowledged(connection: RedisConnection, acked: Map<string, string>): Promise<number> {
  const sessions = new SessionService(connection);
  let lost = 0;
  for (const [id, role] of acked) {
    const session = await sessions.getSession(id);
    if (session?.role !== role) lost++;
  }
  return lost;
}

async function expectExactLimit(connection: RedisConnection, prefix: string): Promise<void> {
  const limiter = new RateLimiter(connection);
  const results = await Promise.all(
    Array.from({ length: 60 }, () =>
      limiter.checkLimit(`${prefix}exact`, 'after', { windowMs: 60_000, maxRequests: 20 }),
    ),
  );
  expect(results.filter((r) => r.degraded)).toHaveLength(0);
  expect(results.filter((r) => r.allowed)).toHaveLength(20);
}

type Fault = (mode: Mode) => Promise<void>;

const faults: Record<string, Fault> = {
  'kill -9 + restart': async (mode) => {
    await mode.kill();
  },
  'CLIENT KILL all clients': async (mode) => {
    for (const node of await mode.masters()) {
      await node.cmd('CLIENT', 'KILL', 'TYPE', 'normal').catch(() => undefined);
      await node.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub').catch(() => undefined);
    }
  },
  'DEBUG SLEEP past commandTimeoutMs': async (mode) => {
    const [node] = await mode.masters();
    await node.cmd('DEBUG', 'SLEEP', String((COMMAND_TIMEOUT_MS * 3) / 1000)).catch(() => undefined);
  },
  'maxmemory reached (noeviction)': async (mode) => {
    const masters = await mode.masters();
    for (const node of masters) {
      const info = String(await node.cmd('INFO', 'memory'));
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
      await node.cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await node.cmd('CONFIG', 'SET', 'maxmemory', String(used + 256 * 1024));
    }
    await sleep(1500);
    for (const node of masters) await node.cmd('CONFIG', 'SET', 'maxmemory', '0');
  },
  failover: async (mode) => {
    if (!mode.failover) throw new Error('no failover in this mode');
    await mode.failover();
  },
};

async function runCase(modeName: string, mode: Mode, faultName: string): Promise<void> {
  const prefix = uniquePrefix(`${modeName}-${faultName.split(' ')[0]}`);
  const connection = new RedisConnection({
    ...mode.options,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
  });
  await connection.connect();
  const load = startLoad(connection, prefix, mode.replicas);
  try {
    await sleep(500);
    await faults[faultName](mode);
    const faultEnded = performance.now();
    await mode.settle();
    await untilHealthy(connection, prefix);
    const recoveryMs = performance.now() - faultEnded;
    await sleep(300);
    await load.stop();
    const lostAcked = await lostAcknowledged(connection, load.acked);
    rows.push({ mode: modeName, fault: faultName, ...load.stats, recoveryMs, lostAcked });

    expect(unhandled).toEqual([]);
    expect(load.stats.calls).toBeGreaterThan(20);
    expect(load.stats.longestMs).toBeLessThan(LONGEST_ALLOWED_MS);
    if (!(faultName.startsWith('kill') && mode.killLosesWrites)) expect(lostAcked).toBe(0);
    await expectExactLimit(connection, prefix);
  } finally {
    await load.stop();
    await connection.close();
  }
}

function suite(modeName: string, start: () => Promise<Mode>, faultNames: string[]) {
  describe(modeName, () => {
    let mode: Mode;
    beforeAll(async () => {
      mode = await start();
    }, 120_000);
    afterAll(() => mode?.stop());
    for (const faultName of faultNames) {
      it(`survives ${faultName}`, () => runCase(modeName, mode, faultName), 120_000);
    }
  });
}

const common = [
  'kill -9 + restart',
  'CLIENT KILL all clients',
  'DEBUG SLEEP past commandTimeoutMs',
  'maxmemory reached (noeviction)',
];

suite(
  'standalone (AOF)',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-aof-'));
    const server = await startRedis({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] });
    // redis-cli without blocking the event loop, so the load keeps running meanwhile.
    const node = {
      cmd: (...args: Array<string | number>) =>
        new Promise((resolve, reject) =>
          execFile('redis-cli', ['-p', String(server.port), ...args.map(String)], (error, stdout) =>
            error ? reject(error) : resolve(stdout.trim()),
          ),
        ),
    } as unknown as TopologyNode;
    return {
      options: { url: server.url },
      replicas: 0,
      masters: async () => [node],
      kill: async () => {
        await server.kill();
        await sleep(300);
        await server.restart();
      },
      killLosesWrites: false,
      settle: async () => undefined,
      stop: async () => {
        await server.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  common,
);

suite(
  'TLS',
  async () => {
    const server = await startTlsServer();
    return {
      options: { url: server.url, tls: { ca: fs.readFileSync(server.caFile) } },
      replicas: 0,
      masters: async () => [server],
      kill: async () => {
        await server.kill();
        await sleep(300);
        await server.restart();
      },
      killLosesWrites: true,
      settle: async () => undefined,
      stop: () => server.stop(),
    };
  },
  common,
);

suite('Sentinel', async () => {
  const set = await startSentinelSet();
  return {
    options: { sentinel: { masterName: set.masterName, nodes: set.sentinelUrls } },
    replicas: 1,
    masters: async () => [await set.currentMasterNode()],
    kill: async () => {
      const master = await set.currentMasterNode();
      await master.kill();
      await sleep(300);
      await set.waitHealthy(40_000).catch(() => undefined);
      await master.restart();
      await set.waitHealthy(40_000);
    },
    killLosesWrites: false,
    failover: async () => {
      await set.failover();
    },
    settle: () => set.waitHealthy(40_000),
    stop: () => set.stop(),
  };
}, [...common, 'failover']);

suite('Cluster', async () => {
  const cluster = await startCluster();
  return {
    options: { cluster: { nodes: cluster.urls } },
    replicas: 1,
    masters: () => cluster.masters(),
    kill: async () => {
      const [master] = await cluster.masters();
      await master.kill();
      await cluster.waitHealthy(40_000);
      await master.restart();
      await cluster.waitHealthy(40_000);
    },
    killLosesWrites: false,
    failover: async () => {
      await cluster.failover();
    },
    settle: () => cluster.waitHealthy(40_000),
    stop: () => cluster.stop(),
  };
}, [...common, 'failover']);
