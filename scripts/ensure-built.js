// Builds the addon and dist/ when missing or older than their sources, so `npm test` and
// `npm run demo` work on a fresh clone without a separate build step.
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

// The addon `napi build --platform` names after this machine (redis-layer.<platform>.node).
const binaries = fs.readdirSync(root).filter((file) => /^redis-layer\..+\.node$/.test(file));
const binary = path.join(root, binaries[0] ?? 'redis-layer.node');
// The addon and the compiled TypeScript (dist/, not committed) must both be newer than every source.
const outputs = [binary, path.join(root, 'dist', 'index.js')];
const sources = ['src', 'core/src', 'ts'].map((dir) => newestSource(path.join(root, dir)));
const stale = outputs.some((output) => !fs.existsSync(output) || fs.statSync(output).mtimeMs < Math.max(...sources));
if (stale) {
  console.log('redis-layer: building the native addon (first run or sources changed)…');
  execSync('npm run build', { cwd: root, stdio: 'inherit' });
}
