/** A Redis Cluster of real redis-server processes on loopback ports, created with `redis-cli --cluster create`. */
import path from 'node:path';
import {
  fields,
  freePorts,
  Group,
  HOST,
  makeNode,
  type Reply,
  run,
  settleAll,
  type TopologyNode,
  WAIT_MS,
  waitFor,
} from './node';

export interface ClusterNode extends TopologyNode {
  /** Cluster node id (stable across restarts: same nodes.conf). */
  readonly id: string;
  readonly busPort: number;
}

export interface Cluster {
  nodes: ClusterNode[];
  urls: string[];
  dir: string;
  /** Live masters that serve slots, ordered by their first slot. */
  masters(): Promise<ClusterNode[]>;
  /** Live replicas of `master` per CLUSTER NODES. */
  replicasOf(master: ClusterNode): Promise<ClusterNode[]>;
  /** The live master serving the key's slot. */
  nodeForKey(key: string): Promise<ClusterNode>;
  /**
   * Manual failover (CLUSTER FAILOVER on a replica of `master`, default: first master);
   * resolves with the promoted node once the cluster is healthy again.
   */
  failover(master?: ClusterNode): Promise<ClusterNode>;
  /**
   * Moves `slot` from the master serving it to `target` (a live master), its keys with it;
   * resolves with the former owner once the cluster is healthy again.
   */
  moveSlot(slot: number, target: ClusterNode): Promise<ClusterNode>;
  /**
   * Every live node: cluster_state:ok, all 16384 slots ok, slots served only by live
   * masters, every other live node seen connected (no fail/pfail/handshake), one
   * agreed picture of which live node serves which slots and which replicates whom
   * (no slotless masters), and every live replica's master link up.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** CRC16/XMODEM of the key (or its {hash tag}) mod 16384: Redis Cluster's key slot. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf('{');
  if (open >= 0) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  link: string;
  slots: Array<[number, number]>;
}

function parseClusterNodes(text: Reply): NodeLine[] {
  return String(text)
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const parts = line.trim().split(' ');
      const slots: Array<[number, number]> = [];
      for (const s of parts.slice(8)) {
        if (s.startsWith('[')) continue; // importing/migrating marker, not ownership
        const [a, b] = s.split('-').map(Number);
        slots.push([a, b ?? a]);
      }
      return {
        id: parts[0],
        port: Number(/:(\d+)@/.exec(parts[1])?.[1] ?? -1),
        flags: parts[2].split(','),
        masterId: parts[3],
        link: parts[7],
        slots,
      };
    });
}

const failing = (flags: string[]) =>
  flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake' || f === 'noaddr');

export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const masterCount = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  if (!Number.isInteger(masterCount) || masterCount < 3)
    throw new RangeError('masters must be an integer >= 3 (redis-cli --cluster create needs 3)');
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0)
    throw new RangeError('replicasPerMaster must be an integer >= 0');
  const total = masterCount * (1 + replicasPerMaster);

  const group = new Group('cluster');
  return group.build(async () => {
    // Explicit bus ports: port+10000 may be taken or exceed 65535 for ephemeral ports.
    const ports = await freePorts(total * 2);
    const nodes: ClusterNode[] = [];
    const ids = new Map<ClusterNode, string>();
    for (let i = 0; i < total; i++) {
      const port = ports[i];
      const busPort = ports[total + i];
      const proc = group.server({
        name: 'node',
        port,
        ports: [port, busPort],
        args: (shared) => [
          '--port',
          String(port),
          ...shared,
          '--repl-diskless-sync-delay',
          '0',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(group.dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '1000',
          '--cluster-port',
          String(busPort),
        ],
      });
      const node = Object.assign(makeNode(proc, `redis://${HOST}:${port}`, [], {}), { busPort }) as ClusterNode;
      Object.defineProperty(node, 'id', { enumerable: true, get: () => ids.get(node) ?? '' });
      nodes.push(node);
    }
    await settleAll(group.processes.map((p) => p.start()));
    for (const node of nodes) ids.set(node, String(await node.cmd('CLUSTER', 'MYID')));

    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `${HOST}:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { timeoutMs: 60_000 },
    );

    const byPort = new Map(nodes.map((n) => [n.port, n]));
    const live = () => nodes.filter((n) => n.alive);
    const view = async (): Promise<NodeLine[]> => {
      let lastError: unknown = new Error('no live cluster node');
      for (const node of live()) {
        try {
          return parseClusterNodes(await node.cmd('CLUSTER', 'NODES'));
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError;
    };
    const isServing = (l: NodeLine) =>
      l.flags.includes('master') && !failing(l.flags) && l.slots.length > 0 && !!byPort.get(l.port)?.alive;

    const masters = async () =>
      (await view())
        .filter(isServing)
        .sort((a, b) => a.slots[0][0] - b.slots[0][0])
        .map((l) => byPort.get(l.port) as ClusterNode);

    const replicasOf = async (master: ClusterNode) =>
      (await view())
        .filter(
          (l) =>
            l.flags.includes('slave') && l.masterId === master.id && !failing(l.flags) && byPort.get(l.port)?.alive,
        )
        .map((l) => byPort.get(l.port) as ClusterNode);

    const nodeForSlot = async (slot: number, what = `slot ${slot}`) => {
      const owner = (await view()).find((l) => isServing(l) && l.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!owner) throw new Error(`no live master serves ${what}`);
      return byPort.get(owner.port) as ClusterNode;
    };
    const nodeForKey = (key: string) => {
      const slot = keySlot(key);
      return nodeForSlot(slot, `slot ${slot} (key ${key})`);
    };

    const healthProblem = async (): Promise<true | string> => {
      const alive = live();
      if (alive.length === 0) return 'no live node';
      let agreedMap: string | undefined;
      for (const node of alive) {
        const where = `${HOST}:${node.port}`;
        const info = fields(await node.cmd('CLUSTER', 'INFO'));
        if (info.get('cluster_state') !== 'ok') return `${where} cluster_state:${info.get('cluster_state')}`;
        if (info.get('cluster_slots_ok') !== '16384')
          return `${where} cluster_slots_ok:${info.get('cluster_slots_ok')}`;
        const lines = parseClusterNodes(await node.cmd('CLUSTER', 'NODES'));
        for (const other of alive) {
          if (other === node) continue;
          const line = lines.find((l) => l.port === other.port);
          if (!line) return `${where} does not know ${other.port}`;
          if (failing(line.flags) || line.link !== 'connected')
            return `${where} sees ${other.port} as ${line.flags.join(',')} ${line.link}`;
        }
        const owners = lines.filter((l) => l.flags.includes('master') && !failing(l.flags) && l.slots.length > 0);
        const dead = owners.find((l) => !byPort.get(l.port)?.alive);
        if (dead) return `${where} routes slots to dead node ${dead.port}`;
        // One agreed picture: who serves which slots, and who replicates whom.
        const idPort = new Map(lines.map((l) => [l.id, l.port]));
        const roles: string[] = [];
        for (const other of alive) {
          const line = lines.find((l) => l.port === other.port);
          if (line?.flags.includes('slave')) roles.push(`${other.port}>${idPort.get(line.masterId)}`);
          else if (line?.flags.includes('master') && line.slots.length > 0)
            roles.push(`${other.port}:${line.slots.map(([a, b]) => `${a}-${b}`).join(',')}`);
          else return `${where} sees ${other.port} as a master without slots`;
        }
        const map = roles.sort().join(' ');
        if (agreedMap === undefined) agreedMap = map;
        else if (map !== agreedMap) return `nodes disagree on the topology (${where}: ${map} vs ${agreedMap})`;
        const myself = lines.find((l) => l.flags.includes('myself'));
        if (myself?.flags.includes('slave')) {
          const repl = fields(await node.cmd('INFO', 'replication'));
          if (repl.get('master_link_status') !== 'up')
            return `replica ${where} master_link_status:${repl.get('master_link_status')}`;
        }
      }
      return true;
    };
    const waitHealthy = (timeoutMs = WAIT_MS) => waitFor('a healthy cluster', healthProblem, timeoutMs);

    const failover = async (master?: ClusterNode) => {
      const target = master ?? (await masters())[0];
      const [replica] = await replicasOf(target);
      if (!replica) throw new Error(`master ${target.port} has no live replica to fail over to`);
      await replica.cmd('CLUSTER', 'FAILOVER');
      await waitFor(`replica ${replica.port} to become master`, async () => {
        const role = await replica.cmd('ROLE');
        return (Array.isArray(role) && role[0] === 'master') || `ROLE ${Array.isArray(role) ? role[0] : role}`;
      });
      await waitHealthy();
      return replica;
    };

    const moveSlot = async (slot: number, target: ClusterNode) => {
      const source = await nodeForSlot(slot);
      if (source === target) throw new Error(`slot ${slot} is already on ${target.port}`);
      await target.cmd('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
      await source.cmd('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
      const keys = (await source.cmd('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
      if (keys.length > 0) await source.cmd('MIGRATE', HOST, target.port, '', 0, 5000, 'KEYS', ...keys);
      // Named on both ends first, then on every master, so no node keeps answering for the old owner.
      await target.cmd('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      await source.cmd('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      for (const master of await masters()) await master.cmd('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      await waitHealthy();
      return source;
    };

    await waitHealthy();
    return {
      nodes,
      urls: nodes.map((n) => n.url),
      dir: group.dir,
      masters,
      replicasOf,
      nodeForKey,
      failover,
      moveSlot,
      waitHealthy,
      stop: () => group.stop(),
    };
  });
}
