/**
 * Multi-process topologies for the fault-injection suite: a Redis Cluster, a
 * Sentinel set, a TLS server and an ACL server, all real redis-server
 * processes on 127.0.0.1 with working files in a private temp directory.
 *
 * Everything a test awaits here is asynchronous (own RESP socket, never a
 * blocking redis-cli), so a load generator running next to the harness is not
 * stalled by it and its "longest call" figures stay honest. `cli()` is the one
 * blocking convenience, meant for assertions, not for use under load.
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { freePort } from './redis';

const HOST = '127.0.0.1';
const WAIT_MS = 20_000;

// ---------------------------------------------------------------------------
// Public shapes

export type Reply = string | number | null | Reply[];

/** An error reply (`-ERR ...`) from a server; `cmd()` rejects with it. */
export class RedisReplyError extends Error {}

export interface TopologyNode {
  readonly port: number;
  readonly url: string;
  /** Pid of the current process (changes on restart); -1 before the first start. */
  readonly pid: number;
  /** True while the process runs. */
  readonly alive: boolean;
  /** Blocking redis-cli against this node; returns trimmed stdout. */
  cli(...args: string[]): string;
  /** One command over a fresh socket; rejects on an error reply or after timeoutMs (default 10 s). */
  cmd(...args: Array<string | number>): Promise<Reply>;
  /** SIGKILL, then waits until the process exited and its ports are closed. */
  kill(): Promise<void>;
  /** Starts the process again on the same port(s) and config; waits until it accepts connections. */
  restart(): Promise<void>;
  /** Last lines of this process' log file, for failure messages. */
  logTail(lines?: number): string;
}

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
   * Every live node: cluster_state:ok, all 16384 slots ok, slots served only by live
   * masters, every other live node seen connected (no fail/pfail/handshake), one
   * agreed picture of which live node serves which slots and which replicates whom
   * (no slotless masters), and every live replica's master link up.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

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

export interface TlsServer extends TopologyNode {
  /** rediss://127.0.0.1:<port> (the cert carries IP:127.0.0.1 and DNS:localhost). */
  url: string;
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  requireClientCert: boolean;
  stop(): Promise<void>;
}

export interface AclServer extends TopologyNode {
  /** redis://127.0.0.1:<port>, without credentials. */
  url: string;
  /** redis://app:app-secret@127.0.0.1:<port>. */
  authUrl: string;
  username: string;
  password: string;
  /** Password of the `default` user (requirepass). */
  defaultPassword: string;
  /** `cli()` runs as the default user; this one as any user. */
  cliAs(username: string, password: string, ...args: string[]): string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Waiting

class Fatal extends Error {}

/** Polls `check` (true = done, string = why not yet) until it passes; bounded. */
async function waitFor(what: string, check: () => Promise<true | string>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not checked yet';
  for (;;) {
    try {
      const result = await check();
      if (result === true) return;
      last = result;
    } catch (error) {
      if (error instanceof Fatal) throw error;
      last = (error as Error).message;
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Like Promise.all, but settles every promise first, so nothing is still starting when a caller cleans up. */
async function settleAll(promises: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Distinct free loopback ports (freePort() may hand the same one out twice). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

// ---------------------------------------------------------------------------
// A minimal RESP2 client: one socket per call, so nothing lingers

interface CmdOptions {
  username?: string;
  password?: string;
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
  timeoutMs?: number;
}

function encode(args: Array<string | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const b = Buffer.from(String(arg));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

type Parsed = { value: Reply | RedisReplyError; end: number } | undefined;

function parse(buf: Buffer, at: number): Parsed {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at])) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RedisReplyError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < len; i++) {
        const item = parse(buf, pos);
        if (!item) return undefined;
        items.push(item.value instanceof RedisReplyError ? item.value.message : item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${buf[at]}`);
  }
}

function command(port: number, args: Array<string | number>, options: CmdOptions = {}): Promise<Reply> {
  const auth: Array<Array<string | number>> = [];
  if (options.password !== undefined) {
    auth.push(options.username ? ['AUTH', options.username, options.password] : ['AUTH', options.password]);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const what = `${String(args[0])} on ${HOST}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = options.tls ? tls.connect({ host: HOST, port, ...options.tls }) : net.connect(port, HOST);
    let buf = Buffer.alloc(0);
    const replies: Array<Reply | RedisReplyError> = [];
    const finish = (error: Error | undefined, value?: Reply) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value as Reply);
    };
    const timer = setTimeout(() => finish(new Error(`${what}: no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.once(options.tls ? 'secureConnect' : 'connect', () =>
      socket.write(Buffer.concat([...auth, args].map(encode))),
    );
    socket.on('error', (error) => finish(new Error(`${what}: ${error.message}`)));
    socket.on('close', () => finish(new Error(`${what}: connection closed before the reply`)));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      let parsed: Parsed;
      try {
        // biome-ignore lint/suspicious/noAssignInExpressions: read replies while whole ones are buffered.
        while ((parsed = parse(buf, 0))) {
          replies.push(parsed.value);
          buf = buf.subarray(parsed.end);
        }
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (replies.length < auth.length + 1) return;
      const failed = replies.find((r): r is RedisReplyError => r instanceof RedisReplyError);
      if (failed) finish(new RedisReplyError(`${what}: ${failed.message}`));
      else finish(undefined, replies[replies.length - 1] as Reply);
    });
  });
}

// ---------------------------------------------------------------------------
// Processes

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort if a test run dies before its afterAll: no orphaned redis-servers. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

const COMMON_ARGS = ['--save', '', '--appendonly', 'no', '--enable-debug-command', 'yes'];

class RedisProcess {
  private child?: ChildProcess;

  constructor(
    readonly port: number,
    /** Every port this process listens on, checked closed after a kill. */
    private readonly ports: number[],
    readonly logFile: string,
    /** Computed at each start, so a restart can pick the current topology. */
    private readonly argv: () => Promise<string[]>,
  ) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  logTail(lines = 15): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async start(): Promise<void> {
    if (this.alive) throw new Error(`redis-server on port ${this.port} is already running`);
    installExitHook();
    const args = await this.argv();
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    running.add(child);
    let failure: string | undefined;
    child.on('error', (error) => {
      failure = `could not start redis-server: ${error.message}`;
    });
    child.once('exit', (code, signal) => {
      running.delete(child);
      failure ??= `redis-server on port ${this.port} exited (${signal ?? `code ${code}`})`;
    });
    await waitFor(`redis-server on port ${this.port} to accept connections`, async () => {
      if (failure) throw new Fatal(`${failure}\n--- ${this.logFile}\n${this.logTail()}`);
      return (await canConnect(this.port)) || 'not listening yet';
    });
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    for (const port of this.ports) {
      await waitFor(`port ${port} to close`, async () => !(await canConnect(port)) || 'still accepting');
    }
  }
}

/** What one start function owns: its processes and its temp dir, torn down together. */
class Group {
  readonly dir: string;
  readonly processes: RedisProcess[] = [];
  private stopped = false;

  constructor(kind: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `redis-layer-${kind}-`));
  }

  add(process: RedisProcess): RedisProcess {
    this.processes.push(process);
    return process;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await settleAll(this.processes.map((p) => p.kill()));
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Runs the body; if it throws, stops whatever it started before rethrowing. */
  async build<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }
}

function makeNode(proc: RedisProcess, url: string, cliArgs: string[], cmdOptions: CmdOptions): TopologyNode {
  return {
    port: proc.port,
    url,
    get pid() {
      return proc.pid;
    },
    get alive() {
      return proc.alive;
    },
    cli: (...args) =>
      execFileSync('redis-cli', ['-h', HOST, '-p', String(proc.port), ...cliArgs, ...args], {
        encoding: 'utf8',
        timeout: WAIT_MS,
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim(),
    cmd: (...args) => command(proc.port, args, cmdOptions),
    kill: () => proc.kill(),
    restart: () => proc.start(),
    logTail: (lines) => proc.logTail(lines),
  };
}

function run(file: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? WAIT_MS, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

function fields(info: Reply): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of String(info).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) map.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return map;
}

function pairs(reply: Reply): Map<string, string> {
  const map = new Map<string, string>();
  const list = Array.isArray(reply) ? reply : [];
  for (let i = 0; i + 1 < list.length; i += 2) map.set(String(list[i]), String(list[i + 1]));
  return map;
}

// ---------------------------------------------------------------------------
// Cluster

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
      const args = [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--dir',
        group.dir,
        '--logfile',
        path.join(group.dir, `node-${port}.log`),
        ...COMMON_ARGS,
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
      ];
      const proc = group.add(
        new RedisProcess(port, [port, busPort], path.join(group.dir, `node-${port}.log`), async () => args),
      );
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

    const nodeForKey = async (key: string) => {
      const slot = keySlot(key);
      const owner = (await view()).find((l) => isServing(l) && l.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!owner) throw new Error(`no live master serves slot ${slot} (key ${key})`);
      return byPort.get(owner.port) as ClusterNode;
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

    await waitHealthy();
    return {
      nodes,
      urls: nodes.map((n) => n.url),
      dir: group.dir,
      masters,
      replicasOf,
      nodeForKey,
      failover,
      waitHealthy,
      stop: () => group.stop(),
    };
  });
}

// ---------------------------------------------------------------------------
// Sentinel

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
      const logFile = path.join(group.dir, `node-${port}.log`);
      const base = [
        ...listen(port),
        '--bind',
        HOST,
        '--dir',
        group.dir,
        '--logfile',
        logFile,
        ...COMMON_ARGS,
        '--repl-diskless-sync-delay',
        '0',
      ];
      if (password !== undefined) base.push('--requirepass', password, '--masterauth', password);
      let started = false;
      // A restarted node rejoins as a replica of whoever the sentinels now call master.
      const argv = async () => {
        let upstream = port === masterPort ? undefined : masterPort;
        if (started) {
          const current = await currentMaster().catch(() => undefined);
          upstream = current && current.port !== port ? current.port : undefined;
        }
        started = true;
        return upstream === undefined ? base : [...base, '--replicaof', HOST, String(upstream)];
      };
      return makeNode(
        group.add(new RedisProcess(port, [port], logFile, argv)),
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
      const logFile = path.join(group.dir, `sentinel-${port}.log`);
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
      const argv = async () => [conf, '--sentinel', ...listen(port)];
      return makeNode(
        group.add(new RedisProcess(port, [port], logFile, argv)),
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
            if (!/NOGOODSLAVE|INPROG/.test(error.message)) throw new Fatal(error.message);
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

// ---------------------------------------------------------------------------
// TLS

let tlsVerdict: string | null | undefined;

/** Why TLS tests cannot run here (no TLS build of redis-server/redis-cli, no openssl), or undefined. */
export function tlsUnsupportedReason(): string | undefined {
  if (tlsVerdict === undefined) {
    // A TLS build rejects a TLS port without certificates; a plain build rejects the directive itself.
    const probe = spawnSync('redis-server', ['--port', '0', '--tls-port', '1', '--save', '', '--logfile', ''], {
      encoding: 'utf8',
      timeout: 5000,
      killSignal: 'SIGKILL',
    });
    const out = `${probe.stdout ?? ''}${probe.stderr ?? ''}`;
    const cliHelp = spawnSync('redis-cli', ['--help'], { encoding: 'utf8', timeout: 5000 });
    const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 5000 });
    if (probe.error) tlsVerdict = `redis-server could not run: ${probe.error.message}`;
    else if (
      !/Failed to configure TLS|tls-(cert|key|ca-cert)/i.test(out) ||
      /Bad directive|wrong number of arguments/i.test(out)
    ) {
      tlsVerdict = `this redis-server (${execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim()}) is built without TLS: ${out.trim().split('\n').pop()}`;
    } else if (!/--tls\b/.test(`${cliHelp.stdout ?? ''}${cliHelp.stderr ?? ''}`))
      tlsVerdict = 'this redis-cli is built without TLS (no --tls option)';
    else if (openssl.status !== 0) tlsVerdict = 'openssl is not available to make test certificates';
    else tlsVerdict = null;
  }
  return tlsVerdict ?? undefined;
}

export function tlsSupported(): boolean {
  return tlsUnsupportedReason() === undefined;
}

const OPENSSL_CONF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = redis-layer test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = DNS:redis-layer-client
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

export interface CertificateFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

async function makeCertificates(dir: string): Promise<CertificateFiles> {
  const file = (name: string) => path.join(dir, name);
  fs.writeFileSync(file('openssl.cnf'), OPENSSL_CONF);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await openssl(
    'req',
    '-config',
    file('openssl.cnf'),
    '-x509',
    '-new',
    '-nodes',
    '-newkey',
    'rsa:2048',
    '-sha256',
    '-days',
    '3',
    '-subj',
    '/CN=redis-layer test CA',
    '-extensions',
    'ca_ext',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
  );
  for (const [name, cn, ext] of [
    ['server', 'localhost', 'server_ext'],
    ['client', 'redis-layer-client', 'client_ext'],
  ]) {
    await openssl(
      'req',
      '-config',
      file('openssl.cnf'),
      '-new',
      '-nodes',
      '-newkey',
      'rsa:2048',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '3',
      '-sha256',
      '-extfile',
      file('openssl.cnf'),
      '-extensions',
      ext,
      '-out',
      file(`${name}.crt`),
    );
  }
  return {
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
  };
}

export interface TlsOptions {
  requireClientCert?: boolean;
}

/** Listens on `port` for TLS only, with the test certificates. */
function tlsListenArgs(files: CertificateFiles, port: number, requireClientCert: boolean): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    files.certFile,
    '--tls-key-file',
    files.keyFile,
    '--tls-ca-cert-file',
    files.caFile,
    '--tls-auth-clients',
    requireClientCert ? 'yes' : 'no',
  ];
}

/** How redis-cli and the RESP helper reach a node of `files`' CA, with `password` if set. */
function clientAccess(
  files: CertificateFiles | undefined,
  password: string | undefined,
): { cliArgs: string[]; cmdOptions: CmdOptions } {
  const cliArgs = files
    ? ['--tls', '--cacert', files.caFile, '--cert', files.clientCertFile, '--key', files.clientKeyFile]
    : [];
  if (password !== undefined) cliArgs.push('-a', password, '--no-auth-warning');
  const tlsMaterial = files && {
    ca: fs.readFileSync(files.caFile),
    cert: fs.readFileSync(files.clientCertFile),
    key: fs.readFileSync(files.clientKeyFile),
  };
  return { cliArgs, cmdOptions: { password, tls: tlsMaterial } };
}

/** `redis://` or `rediss://` URL of a loopback node, with its password if it has one. */
function nodeUrl(port: number, tls: boolean, password?: string): string {
  return `${tls ? 'rediss' : 'redis'}://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}${HOST}:${port}`;
}

export async function startTlsServer(options: TlsOptions = {}): Promise<TlsServer> {
  const reason = tlsUnsupportedReason();
  if (reason) throw new Error(`TLS tests cannot run here: ${reason}`);
  const requireClientCert = options.requireClientCert ?? false;
  const group = new Group('tls');
  return group.build(async () => {
    const files = await makeCertificates(group.dir);
    const [port] = await freePorts(1);
    const logFile = path.join(group.dir, `tls-${port}.log`);
    const args = [
      ...tlsListenArgs(files, port, requireClientCert),
      '--bind',
      HOST,
      '--dir',
      group.dir,
      '--logfile',
      logFile,
      ...COMMON_ARGS,
    ];
    const proc = group.add(new RedisProcess(port, [port], logFile, async () => args));
    await proc.start();
    const { cliArgs, cmdOptions } = clientAccess(files, undefined);
    const node = makeNode(proc, `rediss://${HOST}:${port}`, cliArgs, cmdOptions);
    return Object.assign(node, {
      url: `rediss://${HOST}:${port}`,
      dir: group.dir,
      ...files,
      requireClientCert,
      stop: () => group.stop(),
    });
  });
}

// ---------------------------------------------------------------------------
// ACL

export interface AclOptions {
  username?: string;
  password?: string;
  defaultPassword?: string;
}

export async function startAclServer(options: AclOptions = {}): Promise<AclServer> {
  const username = options.username ?? 'app';
  const password = options.password ?? 'app-secret';
  const defaultPassword = options.defaultPassword ?? 'default-secret';
  for (const [name, value] of Object.entries({ username, password, defaultPassword })) {
    if (!/^[A-Za-z0-9._-]+$/.test(value))
      throw new RangeError(`${name} must be a plain word (it is written to a config file)`);
  }
  const group = new Group('acl');
  return group.build(async () => {
    const [port] = await freePorts(1);
    const logFile = path.join(group.dir, `acl-${port}.log`);
    const conf = path.join(group.dir, `acl-${port}.conf`);
    // The user lives in the config file (the `user` directive = ACL SETUSER at boot), so a restart keeps it.
    fs.writeFileSync(
      conf,
      [`requirepass ${defaultPassword}`, `user ${username} on >${password} ~* &* +@all`, ''].join('\n'),
    );
    const args = [
      conf,
      '--port',
      String(port),
      '--bind',
      HOST,
      '--dir',
      group.dir,
      '--logfile',
      logFile,
      ...COMMON_ARGS,
    ];
    const proc = group.add(new RedisProcess(port, [port], logFile, async () => args));
    await proc.start();
    const node = makeNode(proc, `redis://${HOST}:${port}`, ['-a', defaultPassword, '--no-auth-warning'], {
      password: defaultPassword,
    });
    const cliAs = (user: string, pass: string, ...args: string[]) =>
      execFileSync(
        'redis-cli',
        ['-h', HOST, '-p', String(port), '--user', user, '--pass', pass, '--no-auth-warning', ...args],
        {
          encoding: 'utf8',
          timeout: WAIT_MS,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ).trim();
    return Object.assign(node, {
      authUrl: `redis://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${HOST}:${port}`,
      username,
      password,
      defaultPassword,
      cliAs,
      stop: () => group.stop(),
    });
  });
}
