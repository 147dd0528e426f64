/** A TLS-only redis-server with throwaway certificates (one CA for server and client), and the TLS pieces the Sentinel set reuses. */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type CmdOptions, freePorts, Group, HOST, makeNode, run, type TopologyNode } from './node';

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

export async function makeCertificates(dir: string): Promise<CertificateFiles> {
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
export function tlsListenArgs(files: CertificateFiles, port: number, requireClientCert: boolean): string[] {
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
export function clientAccess(
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
export function nodeUrl(port: number, tls: boolean, password?: string): string {
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
    const proc = group.server({
      name: 'tls',
      port,
      args: (shared) => [...tlsListenArgs(files, port, requireClientCert), ...shared],
    });
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
