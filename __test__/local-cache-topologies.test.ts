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
import { checkRun, trackingClientIds } from './helpers/local-cache';

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

/** Judges a run (checkRun), and checks each reader was flushed by the disturbance and used its tier after it. */
function check(name: string, run: HistoryRun): Verdict {
  const verdict = checkRun(name, run, { summaries, minWrites: 300 });
  const { to } = run.disturbed as { to: number };
  for (const reader of run.readers) {
    // Flushed by the change of masters, and answering from memory again after it.
    expect(reader.stats.flushes).toBeGreaterThan(history.statsAt(reader, run.started).flushes);
    expect(reader.stats.hits).toBeGreaterThan(history.statsAt(reader, to + 500).hits);
  }
  return verdict;
}

/** Reads `key` through `tier` until a read is answered from memory with `value`. */
const answeredFromMemory = (tier: CacheService, key: string, value: unknown, timeoutMs = 20_000) =>
  waitUntil(
    async () => {
      const hits = (tier.localStats() as LocalCacheStats).hits;
      const read = await tier.get(key);
      return (tier.localStats() as LocalCacheStats).hits > hits && JSON.stringify(read) === JSON.stringify(value);
    },
    `${key} answered from memory`,
    timeoutMs,
  );

/** Writes `value` through `remote` and reads `key` through `tier` until the write is seen. */
async function writeSeen(
  remote: CacheService,
  tier: CacheService,
  key: string,
  value: unknown,
  where: string,
  timeoutMs = 5_000,
): Promise<void> {
  await remote.set(key, value);
  await waitUntil(
    async () => JSON.stringify(await tier.get(key)) === JSON.stringify(value),
    `the write of ${key} on ${where} to be seen`,
    timeoutMs,
  );
}

/** Runs `body` with a tier on one cluster connection and a plain cache (the other client) on another. */
async function withTier(body: (tier: CacheService, remote: CacheService) => Promise<void>): Promise<void> {
  const options = { cluster: { nodes: cluster.urls }, commandTimeoutMs: 2000 };
  const reading = new RedisConnection(options);
  const writing = new RedisConnection(options);
  try {
    await Promise.all([reading.connect(), writing.connect()]);
    await body(new CacheService(reading, { local: {} }), new CacheService(writing));
  } finally {
    await reading.close();
    await writing.close();
  }
}

const trackingOn = async (node: ClusterNode) => trackingClientIds(String(await node.cmd('CLIENT', 'LIST'))).length;

it(
  'tracks keys on every master: a write on any of them reaches the tier',
  () =>
    withTier(async (tier, remote) => {
      const masters = await cluster.masters();
      const keyOf = new Map<ClusterNode, string>();
      const p = uniquePrefix('masters');
      for (let i = 0; keyOf.size < masters.length; i++) {
        const node = await cluster.nodeForKey(`${p}${i}`);
        if (!keyOf.has(node)) keyOf.set(node, `${p}${i}`);
      }
      for (const [node, key] of keyOf) {
        await remote.set(key, { v: 1 });
        await answeredFromMemory(tier, key, { v: 1 }, 10_000);
        expect(await trackingOn(node)).toBeGreaterThan(0);
      }
      for (const [node, key] of keyOf) await writeSeen(remote, tier, key, { v: 2 }, `${node.port}`, 2_000);
    }),
  60_000,
);

it(
  'a slot migrated to another master: the tier is emptied, and writes on the new owner reach it',
  () =>
    withTier(async (tier, remote) => {
      const key = `${uniquePrefix('moved')}k`;
      await remote.set(key, { v: 1 });
      await answeredFromMemory(tier, key, { v: 1 });
      const source = await cluster.nodeForKey(key);
      const target = (await cluster.masters()).find((node) => node !== source) as ClusterNode;
      // The slot owners are looked at every second: let one look see the picture before the move.
      await sleep(1_200);
      const flushes = (tier.localStats() as LocalCacheStats).flushes;
      await cluster.moveSlot(keySlot(key), target);
      await waitUntil(
        () => (tier.localStats() as LocalCacheStats).flushes > flushes,
        'the tier to be emptied by the migration',
        10_000,
      );
      await answeredFromMemory(tier, key, { v: 1 });
      expect(await cluster.nodeForKey(key)).toBe(target);
      await writeSeen(remote, tier, key, { v: 2 }, `the slot's new owner ${target.port}`);
    }),
  60_000,
);

it('a master killed: once its replica took over, the tier tracks keys there and sees writes made there', async () => {
  const [master] = (await cluster.masters()) as [ClusterNode];
  const [replica] = (await cluster.replicasOf(master)) as [ClusterNode];
  try {
    await withTier(async (tier, remote) => {
      const p = uniquePrefix('killed');
      let key = '';
      for (let i = 0; key === ''; i++) if ((await cluster.nodeForKey(`${p}${i}`)) === master) key = `${p}${i}`;
      await remote.set(key, { v: 1 });
      await answeredFromMemory(tier, key, { v: 1 });
      const flushes = (tier.localStats() as LocalCacheStats).flushes;
      await master.kill();
      await waitUntil(() => (tier.localStats() as LocalCacheStats).flushes > flushes, 'the tier to be flushed', 5_000);
      await waitUntil(async () => (await cluster.masters()).includes(replica), 'the replica to take over', 30_000);
      await cluster.waitHealthy(60_000);
      await remote.set(key, { v: 2 });
      await answeredFromMemory(tier, key, { v: 2 });
      // It answers from memory again, so it must be tracking keys on the promoted master, and see writes there.
      expect(await trackingOn(replica)).toBeGreaterThan(0);
      await writeSeen(remote, tier, key, { v: 3 }, `the promoted master ${replica.port}`);
    });
  } finally {
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
