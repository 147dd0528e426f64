/**
 * Proves the fault-injection harness itself with redis-cli only (no library
 * code): if these fail, a failing fault test says nothing about redis-layer.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import {
  type AclServer,
  type Cluster,
  type ClusterNode,
  type SentinelSet,
  keySlot,
  startAclServer,
  startCluster,
  startSentinelSet,
  startTlsServer,
  tlsUnsupportedReason,
} from './helpers/topology';
import { canConnect } from '../dist/testing/process';

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A key whose slot the given master serves. */
async function keyOn(cluster: Cluster, master: ClusterNode, tag: string): Promise<string> {
  for (let i = 0; i < 10_000; i++) {
    const key = `harness:${tag}:${i}`;
    if ((await cluster.nodeForKey(key)) === master) return key;
  }
  throw new Error(`no key found for master ${master.port}`);
}

describe('keySlot', () => {
  it('matches CLUSTER KEYSLOT, hash tags included', () => {
    // Reference values from Redis' own CLUSTER KEYSLOT.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).toBe(keySlot('foo{}{bar}')); // empty tag: whole key hashed
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
  });
});

describe('cluster harness', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('comes up healthy with 3 masters, each with 1 replica', async () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.urls).toEqual(cluster.nodes.map((n) => `redis://127.0.0.1:${n.port}`));
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    for (const master of masters) {
      const replicas = await cluster.replicasOf(master);
      expect(replicas).toHaveLength(1);
      expect(masters).not.toContain(replicas[0]);
    }
    for (const node of cluster.nodes) {
      expect(node.cli('CLUSTER', 'INFO')).toMatch(/cluster_state:ok/);
      expect(node.cli('CLUSTER', 'INFO')).toMatch(/cluster_known_nodes:6/);
      expect(node.id).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(Number(cluster.nodes[0].cli('CLUSTER', 'KEYSLOT', 'foo'))).toBe(keySlot('foo'));
  });

  it('a SET on each slot range works via redis-cli -c and lands on its master', async () => {
    const masters = await cluster.masters();
    const entry = cluster.nodes[cluster.nodes.length - 1];
    for (const master of masters) {
      const key = await keyOn(cluster, master, 'set');
      expect(entry.cli('-c', 'SET', key, `v-${master.port}`)).toBe('OK');
      expect(master.cli('GET', key)).toBe(`v-${master.port}`); // no -c: the key really lives there
      expect(cluster.nodes[0].cli('-c', 'GET', key)).toBe(`v-${master.port}`);
    }
  });

  it('killing a master promotes its replica; the restarted master rejoins as its replica', async () => {
    const [victim] = await cluster.masters();
    const [heir] = await cluster.replicasOf(victim);
    const key = await keyOn(cluster, victim, 'kill');
    expect(victim.cli('SET', key, 'kept')).toBe('OK');
    expect(victim.cli('WAIT', '1', '5000')).toBe('1');
    const oldPid = victim.pid;

    await victim.kill();
    expect(victim.alive).toBe(false);
    expect(processExists(oldPid)).toBe(false);
    await cluster.waitHealthy();
    const afterKill = await cluster.masters();
    expect(afterKill).toHaveLength(3);
    expect(afterKill).toContain(heir);
    expect(afterKill).not.toContain(victim);
    expect(heir.cli('GET', key)).toBe('kept');

    await victim.restart();
    expect(victim.pid).not.toBe(oldPid);
    await cluster.waitHealthy();
    expect(await cluster.replicasOf(heir)).toEqual([victim]);
    expect(victim.cli('ROLE').split('\n')[0]).toBe('slave');
    expect(victim.cli('-c', 'GET', key)).toBe('kept');
  });

  it('failover() hands a master over to its replica (CLUSTER FAILOVER)', async () => {
    const [master] = await cluster.masters();
    const [replica] = await cluster.replicasOf(master);
    const promoted = await cluster.failover(master);
    expect(promoted).toBe(replica);
    expect(await cluster.masters()).toContain(replica);
    expect(await cluster.replicasOf(replica)).toEqual([master]);
  });

  it('stop() kills every node, closes its ports and removes its files', async () => {
    const pids = cluster.nodes.map((n) => n.pid);
    await cluster.stop();
    for (const node of cluster.nodes) {
      expect(node.alive).toBe(false);
      expect(await canConnect(node.port)).toBe(false);
      expect(await canConnect(node.busPort)).toBe(false);
    }
    for (const pid of pids) expect(processExists(pid)).toBe(false);
    expect(fs.existsSync(cluster.dir)).toBe(false);
  });
});

describe('sentinel harness', () => {
  let set: SentinelSet;

  beforeAll(async () => {
    set = await startSentinelSet();
  }, 60_000);

  afterAll(async () => {
    await set?.stop();
  });

  it('every sentinel reports the master it was started with', async () => {
    expect(set.sentinels).toHaveLength(3);
    expect(set.replicas).toHaveLength(1);
    expect(set.sentinelUrls).toEqual(set.sentinels.map((s) => `redis://127.0.0.1:${s.port}`));
    expect(await set.currentMaster()).toEqual({ host: '127.0.0.1', port: set.master.port });
    for (const sentinel of set.sentinels) {
      expect(sentinel.cli('SENTINEL', 'get-master-addr-by-name', set.masterName).split('\n')).toEqual([
        '127.0.0.1',
        String(set.master.port),
      ]);
    }
    expect(set.replicas[0].cli('ROLE').split('\n').slice(0, 3)).toEqual([
      'slave',
      '127.0.0.1',
      String(set.master.port),
    ]);
  });

  it('failover() moves the master to the replica; waitHealthy() sees the old one demoted', async () => {
    const moved = await set.failover();
    expect(moved).toEqual({ host: '127.0.0.1', port: set.replicas[0].port });
    expect(await set.currentMasterNode()).toBe(set.replicas[0]);
    expect(set.replicas[0].cli('ROLE').split('\n')[0]).toBe('master');
    await set.waitHealthy(); // the sentinels demote the old master ~10 s later
    expect(set.master.cli('ROLE').split('\n').slice(0, 3)).toEqual([
      'slave',
      '127.0.0.1',
      String(set.replicas[0].port),
    ]);
  });

  it('a killed master is replaced automatically and rejoins as a replica after restart', async () => {
    const master = await set.currentMasterNode();
    const other = set.nodes.find((n) => n !== master)!;
    await master.kill();
    await set.waitHealthy();
    expect(await set.currentMasterNode()).toBe(other);
    await master.restart();
    await set.waitHealthy();
    expect(master.cli('ROLE').split('\n').slice(0, 3)).toEqual(['slave', '127.0.0.1', String(other.port)]);
  }, 60_000);

  it('stop() kills every process and removes its files', async () => {
    await set.stop();
    for (const node of [...set.nodes, ...set.sentinels]) {
      expect(node.alive).toBe(false);
      expect(await canConnect(node.port)).toBe(false);
    }
    expect(fs.existsSync(set.dir)).toBe(false);
  });
});

describe('sentinel harness with TLS and passwords', () => {
  let set: SentinelSet;

  beforeAll(async () => {
    const reason = tlsUnsupportedReason();
    if (reason) throw new Error(`TLS cannot be tested on this machine: ${reason}`);
    set = await startSentinelSet({ tls: true, password: 'data-pw', sentinelPassword: 'sentinel-pw' });
  }, 60_000);

  afterAll(async () => {
    await set?.stop();
  });

  it('nodes and sentinels speak TLS only, each with its own password, and replicate over TLS', async () => {
    expect(set.sentinelUrls).toEqual(set.sentinels.map((s) => `rediss://:sentinel-pw@127.0.0.1:${s.port}`));
    expect(set.master.url).toBe(`rediss://:data-pw@127.0.0.1:${set.master.port}`);
    for (const sentinel of set.sentinels) {
      expect(sentinel.cli('SENTINEL', 'get-master-addr-by-name', set.masterName).split('\n')).toEqual([
        '127.0.0.1',
        String(set.master.port),
      ]);
      const master = sentinel.cli('SENTINEL', 'MASTER', set.masterName).split('\n');
      expect(master[master.indexOf('num-other-sentinels') + 1]).toBe('2'); // the sentinels found one another over TLS
    }
    expect(set.replicas[0].cli('ROLE').split('\n').slice(0, 4)).toEqual([
      'slave',
      '127.0.0.1',
      String(set.master.port),
      'connected',
    ]);
    const certs = set.certificates!;
    const tlsArgs = [
      '--tls',
      '--cacert',
      certs.caFile,
      '--cert',
      certs.clientCertFile,
      '--key',
      certs.clientKeyFile,
      '--no-auth-warning',
    ];
    const cli = (port: number, ...args: string[]) =>
      execFileSync('redis-cli', ['-p', String(port), ...args], {
        encoding: 'utf8',
        timeout: 5000,
        stdio: 'pipe',
      }).trim();
    for (const node of [set.master, set.sentinels[0]]) {
      expect(() => cli(node.port, 'PING')).toThrow(); // plain TCP
    }
    // Each side takes only its own password.
    expect(cli(set.master.port, ...tlsArgs, '-a', 'sentinel-pw', 'PING')).toMatch(/NOAUTH/);
    expect(cli(set.sentinels[0].port, ...tlsArgs, '-a', 'data-pw', 'PING')).toMatch(/NOAUTH/);
    expect(cli(set.master.port, ...tlsArgs, '-a', 'data-pw', 'PING')).toBe('PONG');
    expect(await set.sentinels[0].cmd('PING')).toBe('PONG');
  });

  it('fails over over TLS', async () => {
    const moved = await set.failover();
    expect(moved).toEqual({ host: '127.0.0.1', port: set.replicas[0].port });
    await set.waitHealthy();
    expect(set.master.cli('ROLE').split('\n').slice(0, 3)).toEqual([
      'slave',
      '127.0.0.1',
      String(set.replicas[0].port),
    ]);
  }, 60_000);
});

describe('TLS harness', () => {
  const requireTls = () => {
    const reason = tlsUnsupportedReason();
    if (reason) throw new Error(`TLS cannot be tested on this machine: ${reason}`);
  };

  it('a TLS server answers PING over TLS and refuses plain TCP', async () => {
    requireTls();
    const server = await startTlsServer();
    try {
      expect(server.url).toBe(`rediss://127.0.0.1:${server.port}`);
      expect(server.cli('PING')).toBe('PONG');
      expect(await server.cmd('PING')).toBe('PONG');
      for (const file of [
        server.caFile,
        server.certFile,
        server.keyFile,
        server.clientCertFile,
        server.clientKeyFile,
      ]) {
        expect(fs.existsSync(file)).toBe(true);
      }
      const plain = () =>
        execFileSync('redis-cli', ['-p', String(server.port), 'PING'], {
          encoding: 'utf8',
          timeout: 5000,
          stdio: 'pipe',
        });
      expect(plain).toThrow();
    } finally {
      await server.stop();
    }
    expect(await canConnect(server.port)).toBe(false);
  });

  it('with requireClientCert the server refuses a client without a certificate', async () => {
    requireTls();
    const server = await startTlsServer({ requireClientCert: true });
    try {
      expect(server.cli('PING')).toBe('PONG'); // cli() and cmd() present the client cert
      expect(await server.cmd('PING')).toBe('PONG');
      const noCert = () =>
        execFileSync('redis-cli', ['--tls', '--cacert', server.caFile, '-p', String(server.port), 'PING'], {
          encoding: 'utf8',
          timeout: 5000,
          stdio: 'pipe',
        });
      expect(noCert).toThrow();
    } finally {
      await server.stop();
    }
  });
});

describe('ACL harness', () => {
  let server: AclServer;

  beforeAll(async () => {
    server = await startAclServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('the ACL user can AUTH; wrong or missing credentials are refused', async () => {
    expect(server.username).toBe('app');
    expect(server.password).toBe('app-secret');
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.cliAs('app', 'app-secret', 'ACL', 'WHOAMI')).toBe('app');
    expect(server.cliAs('app', 'app-secret', 'SET', 'acl:k', 'v')).toBe('OK');
    expect(server.cli('AUTH', 'app', 'wrong')).toMatch(/WRONGPASS/);
    expect(server.cliAs('app', 'wrong', 'PING')).toMatch(/NOAUTH/); // redis-cli goes on after a failed AUTH
    expect(server.cli('ACL', 'WHOAMI')).toBe('default');
    expect(server.cli('AUTH', 'app', 'app-secret')).toBe('OK');
    const anonymous = execFileSync('redis-cli', ['-p', String(server.port), 'PING'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    expect(anonymous).toMatch(/NOAUTH/);
  });

  it('the user survives a restart', async () => {
    await server.kill();
    await server.restart();
    expect(server.cliAs('app', 'app-secret', 'ACL', 'WHOAMI')).toBe('app');
  });
});
