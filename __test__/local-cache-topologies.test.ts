/**
 * The local cache tier on a Redis Cluster (3 masters, 3 replicas): tracking on every master, a
 * slot migration, a master killed, and the cross-process check of local-cache.test.ts (a writer
 * and three readers, every read judged against the acknowledged writes,
 * fixtures/local-cache-history.js) through a manual failover and through a master killed and
 * replaced by its replica.
 */
import { CacheService, defaultLogger, type LocalCacheStats, RedisConnection, setLogger } from '..';
import { recordingLogger, sleep, uniquePrefix, waitUntil } from './helpers/redis';
import { type Cluster, type ClusterNode, keySlot, startCluster } from './helpers/topology';
import * as history from './fixtures/local-cache-history';
import type { HistoryRun, Verdict } from './fixtures/local-cache-history';

const MAX_DELAY_MS = 200;
const READERS = 3;
const summaries: string[] = [];

const log = recordingLogger();
let cluster: Cluster;

beforeAll(async () => {
  setLogger(log.logger);
  cluster = await startCluster();
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  setLogger(defaultLogger);
  if (summaries.length > 0) console.log(`local tier on a cluster, invalidation delay:\n${summaries.join('\n')}`);
});

/** Judges a run; fails on any violation, on a lag past MAX_DELAY_MS, and when the tier was not used. */
function check(name: string, run: HistoryRun): Verdict {
  const verdict = history.judge(run);
  const line = history.describeRun(name, run, verdict);
  summaries.push(line);
  console.log(line);
  expect(verdict.violations.slice(0, 10)).toEqual([]);
  expect(run.ops.filter((op) => op[4] !== null).length).toBeGreaterThan(300);
  expect(verdict.judged).toBeGreaterThan(5_000);
  for (const reader of run.readers) expect(reader.stats.hits).toBeGreaterThan(100);
  expect(history.percentile(verdict.lags, 100)).toBeLessThan(MAX_DELAY_MS);
  const { to } = run.disturbed as { to: number };
  for (const reader of run.readers) {
    // Flushed by the change of masters, and answering from memory again after it.
    expect(reader.stats.flushes).toBeGreaterThan(history.statsAt(reader, run.started).flushes);
    expect(reader.stats.hits).toBeGreaterThan(history.statsAt(reader, to + 500).hits);
  }
  return verdict;
}

/** Reads `key` through `tier` until a read is answered from memory with `value`. */
const answeredFromMemory = (tier: CacheService, key: string, value: unknown) =>
  waitUntil(
    async () => {
      const hits = (tier.localStats() as LocalCacheStats).hits;
      const read = await tier.get(key);
      return (tier.localStats() as LocalCacheStats).hits > hits && JSON.stringify(read) === JSON.stringify(value);
    },
    `${key} answered from memory`,
    20_000,
  );

const trackingOn = async (node: ClusterNode) =>
  String(await node.cmd('CLIENT', 'LIST'))
    .split('\n')
    .filter((line) => /\bflags=\S*t/.test(line)).length;

it('tracks keys on every master: a write on any of them reaches the tier', async () => {
  const options = { cluster: { nodes: cluster.urls }, commandTimeoutMs: 2000 };
  const reading = new RedisConnection(options);
  const writing = new RedisConnection(options);
  try {
    await Promise.all([reading.connect(), writing.connect()]);
    const tier = new CacheService(reading, { local: {} });
    const remote = new CacheService(writing);
    const masters = await cluster.masters();
    const keyOf = new Map<ClusterNode, string>();
    const p = uniquePrefix('masters');
    for (let i = 0; keyOf.size < masters.length; i++) {
      const node = await cluster.nodeForKey(`${p}${i}`);
      if (!keyOf.has(node)) keyOf.set(node, `${p}${i}`);
    }
    for (const [node, key] of keyOf) {
      await remote.set(key, { v: 1 });
      await answeredFromMemory(tier, key, { v: 1 });
      expect(await trackingOn(node)).toBeGreaterThan(0);
    }
    for (const [node, key] of keyOf) {
      await remote.set(key, { v: 2 });
      await waitUntil(
        async () => JSON.stringify(await tier.get(key)) === '{"v":2}',
        `the write on ${node.port}`,
        2_000,
      );
    }
  } finally {
    await reading.close();
    await writing.close();
  }
}, 60_000);

it('a slot migrated to another master: the tier is emptied, and writes on the new owner reach it', async () => {
  const options = { cluster: { nodes: cluster.urls }, commandTimeoutMs: 2000 };
  const reading = new RedisConnection(options);
  const writing = new RedisConnection(options);
  try {
    await Promise.all([reading.connect(), writing.connect()]);
    const tier = new CacheService(reading, { local: {} });
    const remote = new CacheService(writing);
    const key = `${uniquePrefix('moved')}k`;
    const cached = (value: unknown) => answeredFromMemory(tier, key, value);
    await remote.set(key, { v: 1 });
    await cached({ v: 1 });
    const slot = keySlot(key);
    const source = await cluster.nodeForKey(key);
    const target = (await cluster.masters()).find((node) => node !== source) as ClusterNode;
    // The slot owners are looked at every second: let one look see the picture before the move.
    await sleep(1_200);
    const flushes = (tier.localStats() as LocalCacheStats).flushes;
    await target.cmd('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
    await source.cmd('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    const keys = (await source.cmd('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
    if (keys.length > 0) await source.cmd('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
    for (const node of await cluster.masters()) await node.cmd('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    await cluster.waitHealthy();
    await waitUntil(
      () => (tier.localStats() as LocalCacheStats).flushes > flushes,
      'the tier to be emptied by the migration',
      10_000,
    );
    await cached({ v: 1 });
    expect(await cluster.nodeForKey(key)).toBe(target);
    await remote.set(key, { v: 2 });
    await waitUntil(
      async () => JSON.stringify(await tier.get(key)) === '{"v":2}',
      `the write on the slot's new owner ${target.port} to be seen`,
      5_000,
    );
  } finally {
    await reading.close();
    await writing.close();
  }
}, 60_000);

it('a master killed: once its replica took over, the tier tracks keys there and sees writes made there', async () => {
  const options = { cluster: { nodes: cluster.urls }, commandTimeoutMs: 2000 };
  const reading = new RedisConnection(options);
  const writing = new RedisConnection(options);
  const [master] = (await cluster.masters()) as [ClusterNode];
  const [replica] = (await cluster.replicasOf(master)) as [ClusterNode];
  try {
    await Promise.all([reading.connect(), writing.connect()]);
    const tier = new CacheService(reading, { local: {} });
    const remote = new CacheService(writing);
    const p = uniquePrefix('killed');
    let key = '';
    for (let i = 0; key === ''; i++) if ((await cluster.nodeForKey(`${p}${i}`)) === master) key = `${p}${i}`;
    const cached = (value: unknown) => answeredFromMemory(tier, key, value);
    await remote.set(key, { v: 1 });
    await cached({ v: 1 });
    const flushes = (tier.localStats() as LocalCacheStats).flushes;
    await master.kill();
    await waitUntil(() => (tier.localStats() as LocalCacheStats).flushes > flushes, 'the tier to be flushed', 5_000);
    await waitUntil(async () => (await cluster.masters()).includes(replica), 'the replica to take over', 30_000);
    await cluster.waitHealthy(60_000);
    await remote.set(key, { v: 2 });
    await cached({ v: 2 });
    // It answers from memory again, so it must be tracking keys on the promoted master, and see writes there.
    expect(await trackingOn(replica)).toBeGreaterThan(0);
    await remote.set(key, { v: 3 });
    await waitUntil(
      async () => JSON.stringify(await tier.get(key)) === '{"v":3}',
      `the write on the promoted master ${replica.port} to be seen`,
      5_000,
    );
  } finally {
    await reading.close();
    await writing.close();
    if (!master.alive) {
      await master.restart();
      await cluster.waitHealthy(60_000);
    }
  }
}, 180_000);

it('a writer and three readers through a manual failover: no read older than the last acknowledged write beyond the invalidation delay', async () => {
  const run = await history.runHistory({
    target: { CLUSTER_NODES: cluster.urls.join(',') },
    readers: READERS,
    disturbAtMs: 1_500,
    afterMs: 2_500,
    disturb: async () => {
      await cluster.failover();
    },
  });
  check('cluster, manual failover', run);
}, 120_000);

it('the same with a master killed and its replica taking over', async () => {
  let killed: ClusterNode | undefined;
  try {
    const run = await history.runHistory({
      target: { CLUSTER_NODES: cluster.urls.join(',') },
      readers: READERS,
      disturbAtMs: 1_500,
      afterMs: 2_500,
      disturb: async (control) => {
        const [master] = await cluster.masters();
        killed = master as ClusterNode;
        const [replica] = await cluster.replicasOf(killed);
        // The writer waits while the replica catches up, so no acknowledged write dies with the master
        // (replication is asynchronous: a write the replica never got is lost by the failover, not by the tier).
        await control.pauseWriter();
        const offset = (node: ClusterNode, field: string) =>
          node.cmd('INFO', 'replication').then((info) => Number(new RegExp(`${field}:(\\d+)`).exec(String(info))?.[1]));
        const wanted = await offset(killed, 'master_repl_offset');
        await waitUntil(
          async () => (await offset(replica as ClusterNode, 'slave_repl_offset')) >= wanted,
          'the replica to catch up',
          10_000,
        );
        await killed.kill();
        control.resumeWriter();
        await waitUntil(
          async () => (await cluster.masters()).some((node) => node === replica),
          'the replica to take over',
          30_000,
        );
        await cluster.waitHealthy(60_000);
      },
    });
    check('cluster, master killed', run);
  } finally {
    if (killed !== undefined && !killed.alive) {
      await killed.restart();
      await cluster.waitHealthy(60_000);
    }
  }
}, 180_000);
