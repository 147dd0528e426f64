// Builds the addon when it is missing or older than its sources, so `npm test` and
// `npm run demo` work on a fresh clone without a separate build step.
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const binary = path.join(root, 'redis-layer.linux-x64-gnu.node');

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

const sources = ['src', 'core/src', 'ts'].map((dir) => newestSource(path.join(root, dir)));
const stale = !fs.existsSync(binary) || fs.statSync(binary).mtimeMs < Math.max(...sources);
if (stale) {
  console.log('redis-layer: building the native addon (first run or sources changed)…');
  execSync('npm run build', { cwd: root, stdio: 'inherit' });
}
