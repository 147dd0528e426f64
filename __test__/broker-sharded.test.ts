/**
 * MessageBroker with `sharded: true`: SSUBSCRIBE/SPUBLISH on a Redis Cluster (a message reaches only the
 * node of its channel's slot; subscriptions follow failovers and slot migrations), plain pub/sub on a
 * single server, and publish order kept per channel without waiting for replies.
 */
import { type Message, MessageBroker, RedisConnection, defaultLogger, setLogger } from '..';
import { type Cluster, type ClusterNode, keySlot, startCluster } from './helpers/topology';
import { recordingLogger, sleep, testRedis, type TestServer, uniquePrefix, waitUntil } from './helpers/redis';

const log = recordingLogger();
beforeAll(() => setLogger(log.logger));
afterAll(() => setLogger(defaultLogger));

/** Publishes until a subscriber receives (a new subscription or a moved one takes a moment to be live). */
async function publishUntilReceived(
  broker: MessageBroker,
  channel: string,
  seen: () => number,
  timeoutMs = 20_000,
): Promise<void> {
  const before = seen();
  const logged = log.lines.length;
  await waitUntil(
    async () => {
      await broker.publish(channel, { type: 'probe', data: null });
      await sleep(50);
      return seen() > before;
    },
    `a message on ${channel}`,
    timeoutMs,
  ).catch((error: Error) => {
    // What the subscriber logged meanwhile (its renewals and restores) tells where it got stuck.
    const lines = log.lines.slice(logged).map((l) => `${l.level} ${l.message} ${JSON.stringify(l.meta ?? {})}`);
    throw new Error(`${error.message}; logged meanwhile:\n${lines.slice(-40).join('\n')}`);
  });
}

const shardSubscribers = async (node: ClusterNode, channel: string) =>
  Number(((await node.cmd('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]);

describe('sharded MessageBroker on a Redis Cluster', () => {
  let cluster: Cluster;
  let connection: RedisConnection;

  beforeAll(async () => {
    cluster = await startCluster();
    connection = new RedisConnection({ cluster: { nodes: cluster.urls } });
    await connection.connect();
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  it('subscribes on the node of the channel slot only, and SPUBLISH reaches it there', async () => {
    const broker = new MessageBroker(connection, { sharded: true });
    const channel = uniquePrefix('sharded');
    const received: Message[] = [];
    await broker.subscribe(channel, (message) => {
      received.push(message);
    });
    const owner = await cluster.nodeForKey(channel);
    await waitUntil(async () => (await shardSubscribers(owner, channel)) === 1, 'the SSUBSCRIBE on the owner');
    for (const master of await cluster.masters()) {
      // Not a classic subscription anywhere, and no sharded one on the other masters.
      expect(Number(((await master.cmd('PUBSUB', 'NUMSUB', channel)) as [string, number])[1])).toBe(0);
      if (master.id !== owner.id) expect(await shardSubscribers(master, channel)).toBe(0);
    }
    expect(await broker.publish(channel, { type: 'post.created', data: { id: 1 } })).toBe(1);
    await waitUntil(() => received.length === 1, 'the message');
    expect(received[0]).toMatchObject({ type: 'post.created', data: { id: 1 } });
    expect(received[0]?.timestamp).toBeInstanceOf(Date);

    // A classic broker's PUBLISH does not reach a sharded channel: they are separate namespaces.
    expect(await new MessageBroker(connection).publish(channel, { type: 'classic', data: null })).toBe(0);
    await broker.unsubscribe(channel, () => undefined);
  });

  it('keeps each channel in publish order when 3 000 publishes to 3 slots are not awaited', async () => {
    const broker = new MessageBroker(connection, { sharded: true });
    const channels = ['{a}', '{b}', '{c}'].map((tag) => `${uniquePrefix('order')}${tag}`);
    expect(new Set(channels.map(keySlot)).size).toBe(3);
    const seen = new Map<string, number[]>(channels.map((channel) => [channel, []]));
    for (const channel of channels) {
      await broker.subscribe<number>(channel, (message, from) => {
        if (message.type === 'n') seen.get(from)?.push(message.data);
      });
    }
    for (const channel of channels) {
      const owner = await cluster.nodeForKey(channel);
      await waitUntil(async () => (await shardSubscribers(owner, channel)) === 1, 'the subscriptions');
    }
    const published: Array<Promise<number>> = [];
    for (let n = 0; n < 1000; n++) {
      for (const channel of channels) published.push(broker.publish(channel, { type: 'n', data: n }));
    }
    expect(new Set(await Promise.all(published))).toEqual(new Set([1]));
    await waitUntil(() => [...seen.values()].every((list) => list.length === 1000), 'every message');
    const inOrder = Array.from({ length: 1000 }, (_, n) => n);
    for (const list of seen.values()) expect(list).toEqual(inOrder);
  });

  it('follows a failover of the master serving the channel: messages flow again from the new master', async () => {
    const broker = new MessageBroker(connection, { sharded: true });
    const channel = uniquePrefix('failover');
    let received = 0;
    await broker.subscribe(channel, () => {
      received++;
    });
    await publishUntilReceived(broker, channel, () => received);
    const promoted = await cluster.failover(await cluster.nodeForKey(channel));
    expect((await cluster.nodeForKey(channel)).id).toBe(promoted.id);
    // The demoted master still serves the shard as a replica, which Redis also delivers from.
    await publishUntilReceived(broker, channel, () => received);
  }, 90_000);

  /** A fresh channel whose slot's master has a live replica to take over when it dies. */
  async function channelWithReplica(name: string): Promise<string> {
    for (;;) {
      const channel = uniquePrefix(name);
      if ((await cluster.replicasOf(await cluster.nodeForKey(channel))).length > 0) return channel;
    }
  }

  for (const sharded of [true, false]) {
    it(`${sharded ? 'a sharded' : 'a plain'} broker keeps receiving when the master of its channel dies and a replica takes over`, async () => {
      const broker = new MessageBroker(connection, { sharded });
      const channel = await channelWithReplica('killed');
      let received = 0;
      await broker.subscribe(channel, () => {
        received++;
      });
      await publishUntilReceived(broker, channel, () => received);
      const dead = await cluster.nodeForKey(channel);
      await dead.kill();
      await waitUntil(
        async () => (await cluster.nodeForKey(channel).catch(() => dead)).id !== dead.id,
        'a replica to take over the slot',
        30_000,
      );
      // Every node must learn of the promotion, and the subscriber may have to follow its channel twice (a
      // subscription a replica took is ended by Redis when that replica is promoted): give a loaded machine time.
      await publishUntilReceived(broker, channel, () => received, 45_000);
      if (sharded) expect(await shardSubscribers(await cluster.nodeForKey(channel), channel)).toBe(1);
    }, 90_000);
  }

  it('follows the channel slot when it migrates to another master', async () => {
    const broker = new MessageBroker(connection, { sharded: true });
    const channel = uniquePrefix('migrate');
    let received = 0;
    await broker.subscribe(channel, () => {
      received++;
    });
    await publishUntilReceived(broker, channel, () => received);
    const source = await cluster.nodeForKey(channel);
    const target = (await cluster.masters()).find((master) => master.id !== source.id) as ClusterNode;
    await cluster.moveSlot(keySlot(channel), target);
    await publishUntilReceived(broker, channel, () => received);
    await waitUntil(async () => (await shardSubscribers(target, channel)) === 1, 'the subscription on the new owner');
    expect(await shardSubscribers(source, channel)).toBe(0);
  }, 90_000);

  it('rejects pattern subscriptions and a non-boolean option, naming them', async () => {
    const broker = new MessageBroker(connection, { sharded: true });
    await expect(broker.psubscribe('post:*', () => undefined)).rejects.toThrow(
      /pattern subscriptions are not available on a sharded MessageBroker/,
    );
    await expect(broker.punsubscribe('post:*', () => undefined)).rejects.toBeInstanceOf(TypeError);
    expect(() => new MessageBroker(connection, { sharded: 'yes' as unknown as boolean })).toThrow(
      /options\.sharded must be a boolean, got string/,
    );
  });
});

describe('sharded MessageBroker on a single server', () => {
  let server: TestServer;
  let connection: RedisConnection;

  beforeAll(async () => {
    server = await testRedis();
    connection = new RedisConnection({ url: server.url });
    await connection.connect();
  });

  afterAll(async () => {
    await connection.close();
    await server.stop();
  });

  it('is plain pub/sub: nothing to shard, and plain brokers on the same channel hear each other', async () => {
    const sharded = new MessageBroker(connection, { sharded: true });
    const plain = new MessageBroker(connection);
    const channel = uniquePrefix('single');
    const heard: string[] = [];
    await sharded.subscribe(channel, (message) => {
      heard.push(`sharded:${message.type}`);
    });
    await plain.subscribe(channel, (message) => {
      heard.push(`plain:${message.type}`);
    });
    expect(await plain.publish(channel, { type: 'a', data: null })).toBe(1);
    expect(await sharded.publish(channel, { type: 'b', data: null })).toBe(1);
    await waitUntil(() => heard.length === 4, 'both messages at both brokers');
    expect(heard.sort()).toEqual(['plain:a', 'plain:b', 'sharded:a', 'sharded:b']);
  });
});
