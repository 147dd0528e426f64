/** A redis-server with an ACL user and a password on the default user. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePorts, Group, HOST, makeNode, type TopologyNode, WAIT_MS } from './node';

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
    const conf = path.join(group.dir, `acl-${port}.conf`);
    // The user lives in the config file (the `user` directive = ACL SETUSER at boot), so a restart keeps it.
    fs.writeFileSync(
      conf,
      [`requirepass ${defaultPassword}`, `user ${username} on >${password} ~* &* +@all`, ''].join('\n'),
    );
    const proc = group.server({ name: 'acl', port, args: (shared) => [conf, '--port', String(port), ...shared] });
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
