// A Node.js binary from the npm registry's node-linux-<arch> packages (what the `node` package
// installs through an install script, which npm 11 does not run by default), unpacked once under
// target/node/. Used to run the tests under other Node majors and the arm64 smoke test.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

/** The path of `node` for `arch` (x64, arm64) and `major` (e.g. '22'), downloaded on first use. */
function registryNode(arch, major) {
  const dir = path.join(root, 'target', 'node', `linux-${arch}-${major}`);
  const node = path.join(dir, 'package', 'bin', 'node');
  if (!fs.existsSync(node)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const run = (command, args) => execFileSync(command, args, { cwd: dir, encoding: 'utf8' }).trim();
    const tarball = run('npm', ['pack', `node-linux-${arch}@${major}`, '--silent']);
    run('tar', ['xzf', tarball]);
    fs.rmSync(path.join(dir, tarball));
  }
  return node;
}

module.exports = { registryNode };
