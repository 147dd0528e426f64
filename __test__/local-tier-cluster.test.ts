/**
 * The local cache tier on a Redis Cluster: invalidations from every master, a slot migration,
 * a manual failover and a master killed (its replica taking over).
 */
import { CacheService, RedisConnection, setLogger, defaultLogger } from '..';
import { recordingLogger, sleep, uniquePrefix, waitUntil } from './helpers/redis';
import { type Cluster, type ClusterNode, keySlot, startCluster } from './helpers/topology';

const log = recordingLogger();
let cluster: Cluster;
let reader: RedisConnection;
let writer: RedisConnection;
let cache: CacheService;
let other: CacheService;

beforeAll(async () => {
  setLogger(log.logger);
  cluster = await startCluster();
  const options = { cluster: { nodes: cluster.urls }, commandTimeoutMs: 2000 };
  reader = new RedisConnection(options);
  writer = new RedisConnection(options);
  await Promise.all([reader.connect(), writer.connect()]);
  cache = new CacheService(reader, { local: {} });
  other = new CacheService(writer);
}, 120_000);

afterAll(async () => {
  await reader?.close();
  await writer?.close();
  await cluster?.stop();
  setLogger(defaultLogger);
});

/** Reads `key` until the tier answers it from memory with `value`. */
async function cachedLocally(key: string, value: unknown): Promise<void> {
  await waitUntil(async () => {
    const hits = cache.localStats()?.hits ?? 0;
    const read = await cache.get(key);
    return (cache.localStats()?.hits ?? 0) > hits && JSON.stringify(read) === JSON.stringify(value);
  }, `${key} answered from the local tier`);
}

/** A write by the other connection reaches this tier: the next reads see it. */
async function seesWrite(key: string, value: unknown, what: string): Promise<void> {
  await other.set(key, value);
  await waitUntil(async () => JSON.stringify(await cache.get(key)) === JSON.stringify(value), what);
}

/** One key per master, so every node's invalidations are exercised. */
async function keyPerMaster(prefix: string): Promise<Map<ClusterNode, string>> {
  const byNode = new Map<ClusterNode, string>();
  const masters = await cluster.masters();
  for (let i = 0; byNode.size < masters.length; i++) {
    const key = `${prefix}${i}`;
    const node = await cluster.nodeForKey(key);
    if (!byNode.has(node)) byNode.set(node, key);
  }
  return byNode;
}

it('takes invalidations from every master', async () => {
  const keys = await keyPerMaster(uniquePrefix('every'));
  for (const key of keys.values()) {
    await other.set(key, { v: 1 });
    await cachedLocally(key, { v: 1 });
  }
  for (const key of keys.values()) await seesWrite(key, { v: 2 }, `the write of ${key} on its master`);
});

it('a slot migrated to another master: emptied, and writes on the new master reach it', async () => {
  const key = `${uniquePrefix('moved')}k`;
  await other.set(key, { v: 1 });
  await cachedLocally(key, { v: 1 });
  const slot = keySlot(key);
  const source = await cluster.nodeForKey(key);
  const target = (await cluster.masters()).find((node) => node !== source) as ClusterNode;
  // The slot owners are looked at every second: let one look see the picture before the move.
  await sleep(1_200);
  const flushes = cache.localStats()?.flushes ?? 0;
  await target.cmd('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
  await source.cmd('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
  const keys = (await source.cmd('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
  if (keys.length > 0) await source.cmd('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
  for (const node of await cluster.masters()) await node.cmd('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
  await cluster.waitHealthy();
  await waitUntil(() => (cache.localStats()?.flushes ?? 0) > flushes, 'the tier to be emptied by the migration');
  await cachedLocally(key, { v: 1 });
  expect(await cluster.nodeForKey(key)).toBe(target);
  await seesWrite(key, { v: 2 }, 'the write on the slot’s new master');
}, 60_000);

it('a manual failover: writes on the promoted master reach it', async () => {
  const keys = await keyPerMaster(uniquePrefix('manual'));
  const [master, key] = [...keys.entries()][0] as [ClusterNode, string];
  await other.set(key, { v: 1 });
  await cachedLocally(key, { v: 1 });
  await cluster.failover(master);
  await seesWrite(key, { v: 2 }, 'the write on the promoted master');
  await cachedLocally(key, { v: 2 });
  await seesWrite(key, { v: 3 }, 'a later write on the promoted master');
}, 90_000);

it('a master killed: emptied at once, tracking back once its replica took over', async () => {
  const keys = await keyPerMaster(uniquePrefix('killed'));
  const [master, key] = [...keys.entries()][0] as [ClusterNode, string];
  await other.set(key, { v: 1 });
  await cachedLocally(key, { v: 1 });
  const flushes = cache.localStats()?.flushes ?? 0;
  await master.kill();
  await waitUntil(() => (cache.localStats()?.flushes ?? 0) > flushes, 'the tier to be emptied when the node died');
  await cluster.waitHealthy(60_000);
  await seesWrite(key, { v: 2 }, 'the write on the replica that took over');
  await cachedLocally(key, { v: 2 });
  await seesWrite(key, { v: 3 }, 'a later write there');
  await master.restart();
  await cluster.waitHealthy(60_000);
}, 120_000);
