// Builds the Linux binaries of package.json's napi targets on this machine with cargo-zigbuild
// (zig as the C compiler and linker for every target), puts each into its npm/<platform>/
// package, and checks what was built: the ELF machine, the C library it links, the newest
// glibc symbol it needs, and its size. macOS and Windows binaries are built by the release
// workflow (.github/workflows/release.yml).
//
//   npm run build:cross                      every Linux target
//   npm run build:cross -- linux-arm64-gnu   the named ones
//
// Needs: rustup, `pip install ziglang cargo-zigbuild` (zig is found as `python3 -m ziglang`).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { parseTriple } = require('@napi-rs/cli');

const root = path.resolve(__dirname, '..');
const pkg = require('../package.json');

/** The oldest glibc the gnu binaries run on (napi-rs' own floor; Amazon Linux 2 and Debian 10 and later). */
const GLIBC_FLOOR = '2.17';
const ELF_MACHINE = { x64: 'X86-64', arm64: 'AArch64' };

function run(command, args, options = {}) {
  return execFileSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
}

function requireTool(command, args, hint) {
  try {
    run(command, args, { stdio: 'ignore' });
  } catch {
    throw new Error(`build:cross needs ${command}: ${hint}`);
  }
}

/** What readelf says about one shared object: machine, needed libraries, newest GLIBC_ version. */
function inspect(file) {
  const header = run('readelf', ['-h', file]);
  const dynamic = run('readelf', ['-d', file]);
  const versions = run('readelf', ['-V', file]);
  const machine = /Machine:\s+(.+)/.exec(header)?.[1]?.trim() ?? 'unknown';
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((match) => match[1]);
  const glibc = [...versions.matchAll(/GLIBC_(\d+(?:\.\d+)+)/g)]
    .map((match) => match[1])
    .sort(compareVersions)
    .pop();
  return { machine, needed, glibc, bytes: fs.statSync(file).size };
}

function compareVersions(a, b) {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Problems with a built binary for `target`, empty when it is what the platform package promises. */
function problems(target, facts) {
  const found = [];
  if (!facts.machine.includes(ELF_MACHINE[target.arch])) found.push(`machine is ${facts.machine}`);
  if (target.abi === 'gnu') {
    if (!facts.needed.includes('libc.so.6')) found.push(`does not link glibc (needs ${facts.needed.join(', ')})`);
    if (facts.glibc && compareVersions(facts.glibc, GLIBC_FLOOR) > 0) found.push(`needs GLIBC_${facts.glibc}`);
  } else if (!facts.needed.some((name) => name === 'libc.so' || name.startsWith('libc.musl-'))) {
    found.push(`does not link musl (needs ${facts.needed.join(', ')})`);
  }
  return found;
}

function main() {
  const wanted = process.argv.slice(2);
  const targets = pkg.napi.targets
    .map(parseTriple)
    .filter((target) => target.platform === 'linux')
    .filter((target) => wanted.length === 0 || wanted.includes(target.platformArchABI));
  if (targets.length === 0) throw new Error(`no Linux target matches ${wanted.join(', ')}`);

  requireTool('cargo-zigbuild', ['--version'], 'pip install cargo-zigbuild');
  requireTool('python3', ['-m', 'ziglang', 'version'], 'pip install ziglang');
  const installed = run('rustup', ['target', 'list', '--installed']);
  const missing = targets.map((target) => target.triple).filter((triple) => !installed.includes(triple));
  if (missing.length > 0) run('rustup', ['target', 'add', ...missing], { stdio: 'inherit' });

  const rows = [];
  let failed = false;
  for (const target of targets) {
    const zigTarget = target.abi === 'gnu' ? `${target.triple}.${GLIBC_FLOOR}` : target.triple;
    console.log(`\n== ${target.platformArchABI} (${zigTarget})`);
    // A target directory of its own, so a cross-build never waits on (or invalidates) the host build.
    run(
      'cargo',
      ['zigbuild', '--release', '-p', 'redis-layer', '--target', zigTarget, '--target-dir', 'target/cross'],
      { stdio: 'inherit' },
    );
    const built = path.join(root, 'target', 'cross', target.triple, 'release', 'libredis_layer.so');
    const destination = path.join(root, 'npm', target.platformArchABI, `${pkg.napi.binaryName}.${target.platformArchABI}.node`);
    fs.copyFileSync(built, destination);
    const facts = inspect(destination);
    const found = problems(target, facts);
    failed ||= found.length > 0;
    rows.push({
      platform: target.platformArchABI,
      machine: facts.machine,
      libc: target.abi === 'gnu' ? `glibc >= ${facts.glibc ?? '?'}` : 'musl',
      size: `${(facts.bytes / 1024 / 1024).toFixed(2)} MiB`,
      check: found.length === 0 ? 'ok' : found.join('; '),
    });
  }
  console.log();
  console.table(rows);
  if (failed) process.exit(1);
}

main();
