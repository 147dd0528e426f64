/**
 * The local tier against a version history, with real processes: one writer sets and deletes
 * keys, three readers read them through their local tiers. No read may return a value older
 * than the latest write acknowledged before the read began, beyond the invalidation delay;
 * the same with the tracking sockets killed, the server restarted, and a cluster failover.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startRedis, sleep, type TestServer, uniquePrefix } from './helpers/redis';
import { type Cluster, startCluster } from './helpers/topology';

const KEYS = 20;
const READERS = 3;
const DURATION_MS = 4_000;
/** A read may lag the latest acknowledged write by at most this much (the invalidation delay's bound). */
const MAX_DELAY_MS = 200;
const now = () => performance.timeOrigin + performance.now();

/** One write: [key index, version, deleted (1/0), issued at, acknowledged at or null]. */
type Op = [number, number, number, number, number | null];
/** One read: [key index, version (-1: null), started, ended, an error was logged meanwhile (1/0)]. */
type Read = [number, number, number, number, number];
interface Stats {
  hits: number;
  misses: number;
  invalidations: number;
  flushes: number;
}

interface Run {
  ops: Op[];
  readers: Array<{ reads: Read[]; stats: Stats }>;
}

function spawn(role: 'writer' | 'reader', env: Record<string, string>): ChildProcess {
  return fork(path.join(__dirname, 'fixtures', 'local-tier-process.js'), [], {
    env: { ...process.env, ...env, ROLE: role, KEYS: String(KEYS), CALLERS: '8', DURATION_MS: String(DURATION_MS) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function next<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) before answering`));
    child.once('exit', onExit);
    child.once('message', (message: T & { failed?: string }) => {
      child.off('exit', onExit);
      if (message.failed !== undefined) reject(new Error(message.failed));
      else resolve(message);
    });
  });
}

/** Runs the writer and the readers against `target`, calling `disturb` halfway. */
async function run(target: Record<string, string>, disturb?: () => Promise<void>): Promise<Run> {
  const env = { ...target, KEY_PREFIX: uniquePrefix('lt') };
  const children = [spawn('writer', env), ...Array.from({ length: READERS }, () => spawn('reader', env))];
  try {
    await Promise.all(children.map((child) => next(child)));
    const results = children.map((child) => next<Record<string, unknown>>(child));
    for (const child of children) child.send('go');
    if (disturb !== undefined) {
      await sleep(DURATION_MS / 2);
      await disturb();
    }
    const [written, ...read] = await Promise.all(results);
    return { ops: (written as { ops: Op[] }).ops, readers: read as Run['readers'] };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** A state of a key: its version and whether it was deleted, issued and acknowledged at. */
interface State {
  version: number;
  deleted: boolean;
  issued: number;
  acked: number;
}

/**
 * Judges every read against the writer's history (plus `resets`: the times the data was lost,
 * as deletes of every key). Returns how far behind the acknowledged history each stale read
 * was (ms after the ack of the write that replaced what it returned).
 */
function judge(result: Run, resets: Array<{ issued: number; acked: number }> = []) {
  const history: State[][] = Array.from({ length: KEYS }, () => [{ version: 0, deleted: true, issued: 0, acked: 0 }]);
  const events = result.ops.map(([, version, deleted, issued, acked]) => ({ version, deleted, issued, acked }));
  for (const [i, version, deleted, issued, acked] of result.ops) {
    history[i]?.push({ version, deleted: deleted === 1, issued, acked: acked ?? Number.POSITIVE_INFINITY });
  }
  for (const reset of resets) {
    const before = events.filter((e) => e.issued < reset.issued).at(-1)?.version ?? 0;
    for (const states of history) states.push({ version: before + 0.5, deleted: true, ...reset });
  }
  for (const states of history) states.sort((a, b) => a.version - b.version);

  const lags: number[] = [];
  let judged = 0;
  for (const { reads } of result.readers) {
    for (const [i, got, started, ended, errored] of reads) {
      if (errored === 1) continue;
      const states = history[i] as State[];
      let latest = 0;
      for (let s = 0; s < states.length; s++) if ((states[s] as State).acked < started) latest = s;
      judged++;
      // The state the read returned: the write of that version, or the newest delete issued before the read ended.
      let returned = -1;
      for (let s = states.length - 1; s >= 0; s--) {
        const state = states[s] as State;
        if (got === -1 ? state.deleted && state.issued <= ended : state.version === got) {
          returned = s;
          break;
        }
      }
      if (returned === -1) throw new Error(`key ${i}: read returned version ${got}, which was never written`);
      if (returned >= latest) continue;
      lags.push(started - (states[returned + 1] as State).acked);
    }
  }
  return { lags: lags.sort((a, b) => a - b), judged };
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number);

function check(name: string, result: Run, resets?: Array<{ issued: number; acked: number }>) {
  const { lags, judged } = judge(result, resets);
  const hits = result.readers.map((reader) => reader.stats.hits);
  console.log(
    `${name}: ${result.ops.length} writes, ${judged} reads judged, local hits ${hits.join('/')}, ` +
      `stale reads ${lags.length}, their lag p50 ${percentile(lags, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(lags, 99).toFixed(2)} ms, max ${percentile(lags, 100).toFixed(2)} ms`,
  );
  expect(result.ops.filter((op) => op[4] !== null).length).toBeGreaterThan(100);
  expect(judged).toBeGreaterThan(1000);
  // The tier was used: readers answered from memory, so the check is not vacuous.
  for (const hit of hits) expect(hit).toBeGreaterThan(100);
  expect(percentile(lags, 100)).toBeLessThan(MAX_DELAY_MS);
  return lags;
}

describe('single server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('no read lags the acknowledged writes beyond the invalidation delay', async () => {
    check('steady', await run({ REDIS_URL: server.url }));
  }, 60_000);

  it('the same with the tracking sockets killed mid-run', async () => {
    const result = await run({ REDIS_URL: server.url }, async () => {
      const tracking = server
        .cli('CLIENT', 'LIST')
        .split('\n')
        .filter((line) => /flags=\S*t/.test(line))
        .map((line) => /id=(\d+)/.exec(line)?.[1] as string);
      expect(tracking).toHaveLength(READERS);
      for (const id of tracking) server.cli('CLIENT', 'KILL', 'ID', id);
    });
    check('tracking killed', result);
    for (const reader of result.readers) expect(reader.stats.flushes).toBeGreaterThan(1);
  }, 60_000);

  it('the same with the server restarted mid-run (its data gone)', async () => {
    const resets: Array<{ issued: number; acked: number }> = [];
    const result = await run({ REDIS_URL: server.url }, async () => {
      const issued = now();
      await server.kill();
      await server.restart();
      resets.push({ issued, acked: now() });
    });
    check('server restarted', result, resets);
  }, 60_000);
});

describe('cluster', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('no read lags the acknowledged writes beyond the invalidation delay, through a failover', async () => {
    const result = await run({ CLUSTER_NODES: cluster.urls.join(',') }, async () => {
      await cluster.failover();
    });
    check('cluster failover', result);
  }, 120_000);
});
