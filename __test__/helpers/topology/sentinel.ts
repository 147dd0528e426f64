/** A master, its replicas and a set of sentinels, optionally all over TLS and with passwords. */
import fs from 'node:fs';
import path from 'node:path';
import {
  fields,
  freePorts,
  Group,
  HOST,
  makeNode,
  pairs,
  type Reply,
  RedisReplyError,
  settleAll,
  StopWaiting,
  type TopologyNode,
  WAIT_MS,
  waitFor,
} from './node';
import {
  type CertificateFiles,
  clientAccess,
  makeCertificates,
  nodeUrl,
  tlsListenArgs,
  tlsUnsupportedReason,
} from './tls';

export interface SentinelSet {
  /** The node started as master (after a failover it may be a replica: see currentMasterNode()). */
  master: TopologyNode;
  /** The nodes started as replicas. */
  replicas: TopologyNode[];
  /** master + replicas. */
  nodes: TopologyNode[];
  sentinels: TopologyNode[];
  masterName: string;
  /** The sentinels' URLs, with their password when they have one. */
  sentinelUrls: string[];
  dir: string;
  /** Certificate files when started with `tls` (one CA signed the server and client certificates). */
  certificates?: CertificateFiles;
  /** Password of the data nodes, if any. */
  password?: string;
  /** Password of the sentinels, if any. */
  sentinelPassword?: string;
  /** SENTINEL get-master-addr-by-name, from the first live sentinel that answers. */
  currentMaster(): Promise<{ host: string; port: number }>;
  currentMasterNode(): Promise<TopologyNode>;
  /**
   * SENTINEL FAILOVER (retried while sentinels answer NOGOODSLAVE/INPROG), then waits until
   * every live sentinel reports a different master and that node answers ROLE master.
   * Resolves with the new master's address. The OLD master still answers ROLE master for
   * ~10 s after this (sentinel demotes it only after its 8 s role-report grace): writes a
   * client sends there meanwhile are lost on demotion. Call waitHealthy() to wait it out.
   */
  failover(): Promise<{ host: string; port: number }>;
  /**
   * All live sentinels agree on a live master that answers ROLE master; every other live
   * data node replicates it with its link up (ROLE); every sentinel lists those replicas
   * with flags exactly `slave` and every other live sentinel with flags `sentinel`.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  replicas?: number;
  sentinels?: number;
  masterName?: string;
  /** Data nodes and sentinels listen on TLS ports only; replication and the sentinels' own links use TLS too. */
  tls?: boolean;
  /** requirepass and masterauth of the data nodes (the sentinels get it as `sentinel auth-pass`). */
  password?: string;
  /** requirepass of the sentinels (and `sentinel sentinel-pass`, for their links to one another). */
  sentinelPassword?: string;
}

export async function startSentinelSet(options: SentinelOptions = {}): Promise<SentinelSet> {
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const masterName = options.masterName ?? 'mymaster';
  if (!Number.isInteger(replicaCount) || replicaCount < 0) throw new RangeError('replicas must be an integer >= 0');
  if (!Number.isInteger(sentinelCount) || sentinelCount < 1) throw new RangeError('sentinels must be an integer >= 1');
  const { password, sentinelPassword } = options;
  for (const [name, value] of Object.entries({ masterName, password, sentinelPassword })) {
    if (value !== undefined && !/^[A-Za-z0-9._-]+$/.test(value))
      throw new RangeError(`${name} must be a plain word (it is written to a config file)`);
  }
  const quorum = Math.min(2, sentinelCount);
  if (options.tls) {
    const reason = tlsUnsupportedReason();
    if (reason) throw new Error(`TLS tests cannot run here: ${reason}`);
  }

  const group = new Group(options.tls ? 'sentinel-tls' : 'sentinel');
  return group.build(async () => {
    const certificates = options.tls ? await makeCertificates(group.dir) : undefined;
    const dataAccess = clientAccess(certificates, password);
    const sentinelAccess = clientAccess(certificates, sentinelPassword);
    // Outgoing links (replica to master, sentinel to anyone) use TLS too.
    const listen = (port: number) =>
      certificates
        ? [...tlsListenArgs(certificates, port, false), '--tls-replication', 'yes']
        : ['--port', String(port)];
    const ports = await freePorts(1 + replicaCount + sentinelCount);
    const dataPorts = ports.slice(0, 1 + replicaCount);
    const sentinelPorts = ports.slice(1 + replicaCount);
    const masterPort = dataPorts[0];
    let sentinels: TopologyNode[] = [];

    const currentMaster = async () => {
      let lastError: unknown = new Error('no live sentinel');
      for (const s of sentinels.filter((n) => n.alive)) {
        try {
          const reply = await s.cmd('SENTINEL', 'get-master-addr-by-name', masterName);
          if (Array.isArray(reply) && reply.length === 2) return { host: String(reply[0]), port: Number(reply[1]) };
          lastError = new Error(`sentinel ${s.port} does not know ${masterName}`);
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError;
    };

    const nodes = dataPorts.map((port) => {
      const auth = password === undefined ? [] : ['--requirepass', password, '--masterauth', password];
      let started = false;
      // A restarted node rejoins as a replica of whoever the sentinels now call master.
      const args = async (shared: string[]) => {
        const base = [...listen(port), ...shared, '--repl-diskless-sync-delay', '0', ...auth];
        let upstream = port === masterPort ? undefined : masterPort;
        if (started) {
          const current = await currentMaster().catch(() => undefined);
          upstream = current && current.port !== port ? current.port : undefined;
        }
        started = true;
        return upstream === undefined ? base : [...base, '--replicaof', HOST, String(upstream)];
      };
      return makeNode(
        group.server({ name: 'node', port, args }),
        nodeUrl(port, !!certificates, password),
        dataAccess.cliArgs,
        dataAccess.cmdOptions,
      );
    });
    const [master, ...replicas] = nodes;
    await master.restart();
    await settleAll(replicas.map((r) => r.restart()));
    // Sentinels learn replicas from the master's INFO, refreshed only every 10 s: start them after the links are up.
    await waitFor('replicas to sync with the master', async () => {
      for (const r of replicas) {
        const repl = fields(await r.cmd('INFO', 'replication'));
        if (repl.get('master_link_status') !== 'up') return `replica ${r.port} link ${repl.get('master_link_status')}`;
      }
      return true;
    });

    sentinels = sentinelPorts.map((port) => {
      const conf = path.join(group.dir, `sentinel-${port}.conf`);
      const logFile = group.logFile('sentinel', port);
      // Written once: a sentinel rewrites its own config (known replicas, epochs) while it runs.
      fs.writeFileSync(
        conf,
        [
          `bind ${HOST}`,
          `dir ${group.dir}`,
          `logfile ${logFile}`,
          'save ""',
          'appendonly no',
          'sentinel resolve-hostnames no',
          `sentinel monitor ${masterName} ${HOST} ${masterPort} ${quorum}`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(password === undefined ? [] : [`sentinel auth-pass ${masterName} ${password}`]),
          ...(sentinelPassword === undefined
            ? []
            : [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]),
          '',
        ].join('\n'),
      );
      return makeNode(
        group.server({ name: 'sentinel', port, args: () => [conf, '--sentinel', ...listen(port)] }),
        nodeUrl(port, !!certificates, sentinelPassword),
        sentinelAccess.cliArgs,
        sentinelAccess.cmdOptions,
      );
    });
    await settleAll(sentinels.map((s) => s.restart()));

    const healthProblem = async (): Promise<true | string> => {
      const liveSentinels = sentinels.filter((s) => s.alive);
      if (liveSentinels.length === 0) return 'no live sentinel';
      const answers = await Promise.all(
        liveSentinels.map((s) => s.cmd('SENTINEL', 'get-master-addr-by-name', masterName)),
      );
      const reported = new Set(answers.map((a) => (Array.isArray(a) ? a.join(':') : String(a))));
      if (reported.size !== 1) return `sentinels disagree on the master: ${[...reported].join(' / ')}`;
      const current = nodes.find((n) => `${HOST}:${n.port}` === [...reported][0]);
      if (!current?.alive) return `sentinels report ${[...reported][0]}, which is not a live node`;
      const role = await current.cmd('ROLE');
      if (!Array.isArray(role) || role[0] !== 'master')
        return `reported master ${current.port} answers ROLE ${Array.isArray(role) ? role[0] : role}`;
      const liveReplicas = nodes.filter((n) => n !== current && n.alive);
      for (const r of liveReplicas) {
        const rrole = await r.cmd('ROLE');
        if (
          !Array.isArray(rrole) ||
          rrole[0] !== 'slave' ||
          Number(rrole[2]) !== current.port ||
          rrole[3] !== 'connected'
        ) {
          return `node ${r.port} is not a connected replica of ${current.port} (ROLE ${JSON.stringify(rrole)})`;
        }
      }
      for (const s of liveSentinels) {
        const m = pairs(await s.cmd('SENTINEL', 'MASTER', masterName));
        if (m.get('flags') !== 'master') return `sentinel ${s.port} flags the master ${m.get('flags')}`;
        const known = ((await s.cmd('SENTINEL', 'REPLICAS', masterName)) as Reply[]).map(pairs);
        for (const r of liveReplicas) {
          const entry = known.find((k) => Number(k.get('port')) === r.port);
          // Not master-link-status: sentinels refresh a replica's INFO only every 10 s, and the ROLE check above is the truth.
          if (entry?.get('flags') !== 'slave')
            return `sentinel ${s.port} sees replica ${r.port} as ${entry?.get('flags') ?? 'unknown'}`;
        }
        const peers = ((await s.cmd('SENTINEL', 'SENTINELS', masterName)) as Reply[]).map(pairs);
        for (const other of liveSentinels) {
          if (other === s) continue;
          const entry = peers.find((p) => Number(p.get('port')) === other.port);
          if (entry?.get('flags') !== 'sentinel')
            return `sentinel ${s.port} sees sentinel ${other.port} as ${entry?.get('flags') ?? 'unknown'}`;
        }
      }
      return true;
    };
    const waitHealthy = (timeoutMs = WAIT_MS) =>
      waitFor(`a healthy sentinel set (${masterName})`, healthProblem, timeoutMs);

    const currentMasterNode = async () => {
      const { port } = await currentMaster();
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`sentinels report an unknown master port ${port}`);
      return node;
    };

    const failover = async () => {
      const before = await currentMaster();
      const asked = sentinels.filter((s) => s.alive);
      await waitFor('a sentinel to accept SENTINEL FAILOVER', async () => {
        for (const s of asked) {
          try {
            await s.cmd('SENTINEL', 'FAILOVER', masterName);
            return true;
          } catch (error) {
            if (!(error instanceof RedisReplyError)) throw error;
            // NOGOODSLAVE / INPROG are transient right after start or another failover.
            if (!/NOGOODSLAVE|INPROG/.test(error.message)) throw new StopWaiting(error.message);
          }
        }
        return 'every sentinel answered NOGOODSLAVE or INPROG';
      });
      let after = before;
      await waitFor(`the sentinels to report a master other than ${before.port}`, async () => {
        const answers = await Promise.all(
          sentinels.filter((s) => s.alive).map((s) => s.cmd('SENTINEL', 'get-master-addr-by-name', masterName)),
        );
        const ports = new Set(answers.map((a) => Number((a as Reply[])[1])));
        if (ports.size !== 1 || ports.has(before.port)) return `sentinels report ${[...ports].join(', ')}`;
        after = { host: String((answers[0] as Reply[])[0]), port: [...ports][0] };
        const node = nodes.find((n) => n.port === after.port);
        const role = await node?.cmd('ROLE');
        return (
          (Array.isArray(role) && role[0] === 'master') ||
          `new master ${after.port} answers ROLE ${Array.isArray(role) ? role[0] : role}`
        );
      });
      return after;
    };

    await waitHealthy();
    return {
      master,
      replicas,
      nodes,
      sentinels,
      masterName,
      sentinelUrls: sentinels.map((s) => s.url),
      dir: group.dir,
      certificates,
      password,
      sentinelPassword,
      currentMaster,
      currentMasterNode,
      failover,
      waitHealthy,
      stop: () => group.stop(),
    };
  });
}
