/**
 * DurableBroker on a Redis Cluster (streams, groups, claims and dead letters in each channel's
 * slot) and through Sentinel (a failover with WAIT loses no acknowledged publish).
 */
import { DurableBroker, defaultLogger, durableKeys, RedisConnection, setLogger } from '..';
import { recordingLogger, sleep, uniquePrefix } from './helpers/redis';
import { type Cluster, type SentinelSet, startCluster, startSentinelSet } from './helpers/topology';

const log = recordingLogger();

async function until(check: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

beforeAll(() => setLogger(log.logger));
afterAll(() => setLogger(defaultLogger));

describe('DurableBroker on a Redis Cluster', () => {
  let cluster: Cluster;
  let connection: RedisConnection;
  beforeAll(async () => {
    cluster = await startCluster();
    connection = new RedisConnection({ cluster: { nodes: cluster.urls }, commandTimeoutMs: 2000 });
    await connection.connect();
  }, 120_000);
  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  it('keeps each channel in one slot: per-channel order, a shared group, redelivery and dead letters on the slot owner', async () => {
    const p = uniquePrefix('cluster');
    const channels = Array.from({ length: 6 }, (_, i) => `${p}ch${i}`);
    const owners = new Set<number>();
    for (const channel of channels) owners.add((await cluster.nodeForKey(durableKeys(channel).stream)).port);
    expect(owners.size).toBeGreaterThan(1);

    const options = { group: 'workers', visibilityTimeoutMs: 300, maxDeliveries: 2 };
    const a = new DurableBroker(connection, { ...options, consumer: 'a' });
    const b = new DurableBroker(connection, { ...options, consumer: 'b', maxInFlight: 1 });
    const seen = new Map<string, number[]>();
    let failedOnce = false;
    const handler = (consumer: string) => (m: { data: { n: number; poison?: boolean } }, channel: string) => {
      if (m.data.poison) throw new Error('poison');
      if (m.data.n === 7 && channel === channels[0] && !failedOnce) {
        failedOnce = true;
        throw new Error('transient');
      }
      const key = `${consumer} ${channel}`;
      seen.set(key, [...(seen.get(key) ?? []), m.data.n]);
    };
    for (const channel of channels) {
      await a.subscribe(channel, handler('a'));
      await b.subscribe(channel, handler('b'));
    }
    const publisher = new DurableBroker(connection);
    await publisher.publish(channels[1] as string, { type: 't', data: { n: -1, poison: true } });
    await Promise.all(
      channels.flatMap((channel) =>
        Array.from({ length: 40 }, (_, n) => publisher.publish(channel, { type: 't', data: { n } })),
      ),
    );
    const total = () => [...seen.values()].reduce((sum, list) => sum + list.length, 0);
    expect(await until(() => total() === 240 && a.stats().deadLettered + b.stats().deadLettered === 1)).toBe(true);
    for (const channel of channels) {
      const byA = seen.get(`a ${channel}`) ?? [];
      const byB = seen.get(`b ${channel}`) ?? [];
      expect([...byA, ...byB].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, n) => n));
      // Each consumer sees its share in publish order (the one redelivered message aside).
      const inOrder = (list: number[]) =>
        list.filter((n) => n !== 7).every((n, i, all) => i === 0 || n > (all[i - 1] as number));
      expect(inOrder(byA)).toBe(true);
      expect(inOrder(byB)).toBe(true);
    }
    const owner = await cluster.nodeForKey(durableKeys(channels[1] as string).deadLetter);
    expect(owner.port).toBe((await cluster.nodeForKey(durableKeys(channels[1] as string).stream)).port);
    expect(Number(await owner.cmd('XLEN', durableKeys(channels[1] as string).deadLetter))).toBe(1);
    for (const channel of channels) {
      const node = await cluster.nodeForKey(durableKeys(channel).stream);
      const summary = (await node.cmd('XPENDING', durableKeys(channel).stream, 'workers')) as unknown[];
      expect(Number(summary[0])).toBe(0);
    }
    await Promise.all([a.close(), b.close(), publisher.close()]);
  }, 60_000);
});

describe('DurableBroker through Sentinel', () => {
  let sentinels: SentinelSet;
  beforeAll(async () => {
    sentinels = await startSentinelSet();
  }, 120_000);
  afterAll(() => sentinels?.stop());

  it('a failover with waitForReplicas loses no acknowledged publish', async () => {
    const options = {
      sentinel: { masterName: sentinels.masterName, nodes: sentinels.sentinelUrls },
      commandTimeoutMs: 2000,
    };
    const publishing = new RedisConnection(options);
    const consuming = new RedisConnection(options);
    await Promise.all([publishing.connect(), consuming.connect()]);
    const channel = uniquePrefix('sentinel');
    const publisher = new DurableBroker(publishing, { waitForReplicas: 1, replicaTimeoutMs: 500 });
    const consumer = new DurableBroker(consuming, { group: 'g', pollIntervalMs: 200, visibilityTimeoutMs: 2000 });
    const delivered = new Set<number>();
    await consumer.subscribe<{ n: number }>(channel, (m) => {
      delivered.add(m.data.n);
    });

    const acknowledged: number[] = [];
    let afterFailover = 0;
    let failedOver = false;
    const loop = (async () => {
      const deadline = Date.now() + 60_000;
      let n = 0;
      // Until 200 publishes succeeded after the failover completed (the new master took the writes).
      while (Date.now() < deadline && afterFailover < 200) {
        const batch = Array.from({ length: 5 }, () => n++);
        const results = await Promise.allSettled(
          batch.map((k) => publisher.publish(channel, { type: 't', data: { n: k } })),
        );
        results.forEach((result, i) => {
          if (result.status === 'fulfilled') {
            acknowledged.push(batch[i] as number);
            if (failedOver) afterFailover += 1;
          }
        });
        if (results.some((r) => r.status === 'rejected')) await sleep(100);
      }
    })();
    await sleep(1000);
    const before = await sentinels.currentMaster();
    const moved = await sentinels.failover();
    expect(moved.port).not.toBe(before.port);
    failedOver = true;
    await loop;
    expect(afterFailover).toBeGreaterThanOrEqual(200);
    const missing = () => acknowledged.filter((k) => !delivered.has(k));
    expect(await until(() => missing().length === 0, 30_000)).toBe(true);
    expect(missing()).toEqual([]);
    // Every acknowledged publish is on the new master.
    const master = await sentinels.currentMasterNode();
    const length = Number(await master.cmd('XLEN', durableKeys(channel).stream));
    expect(length).toBeGreaterThanOrEqual(acknowledged.length);
    await Promise.all([publisher.close(), consumer.close()]);
    await Promise.all([publishing.close(), consuming.close()]);
  }, 120_000);
});
