// Runs a command (by default `npm test`) under other Node.js majors, each from the npm registry
// (scripts/lib/registry-node.js), with that Node first on PATH so npm, Jest and every process the
// tests start use it.
//
//   npm run test:node-versions                                        npm test under 20, 22 and 24
//   npm run test:node-versions -- 22 24 -- npx jest __test__/cache.test.ts   chosen majors, chosen command
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { registryNode } = require('./lib/registry-node');

const root = path.resolve(__dirname, '..');
const separator = process.argv.indexOf('--', 2);
const majors = separator === -1 ? process.argv.slice(2) : process.argv.slice(2, separator);
const command = separator === -1 ? ['npm', 'test'] : process.argv.slice(separator + 1);
const wanted = majors.length > 0 ? majors : ['20', '22', '24'];
if (command.length === 0) throw new TypeError('test:node-versions: nothing to run after "--"');

const results = [];
for (const major of wanted) {
  if (!/^\d+$/.test(major)) throw new TypeError(`test:node-versions: "${major}" is not a Node major version`);
  const node = registryNode(process.arch, major);
  const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` };
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\n######## Node ${version}: ${command.join(' ')}`);
  const result = spawnSync(command[0], command.slice(1), { cwd: root, env, stdio: 'inherit' });
  results.push({ node: version, command: command.join(' '), result: result.status === 0 ? 'passed' : `failed (${result.status ?? result.signal})` });
}
console.table(results);
if (results.some((row) => row.result !== 'passed')) process.exitCode = 1;
