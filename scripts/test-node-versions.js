// Runs Jest under other Node.js majors, each from the npm registry (scripts/lib/registry-node.js),
// with that Node first on PATH so the processes the tests start use it too.
//
//   npm run test:node-versions                                  the whole suite under 20, 22 and 24
//   npm run test:node-versions -- 22 24 -- __test__/cache.test.ts   chosen majors, chosen test files
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { registryNode } = require('./lib/registry-node');

const root = path.resolve(__dirname, '..');
const separator = process.argv.indexOf('--', 2);
const majors = (separator === -1 ? process.argv.slice(2) : process.argv.slice(2, separator)).filter(Boolean);
const jestArgs = separator === -1 ? [] : process.argv.slice(separator + 1);
const wanted = majors.length > 0 ? majors : ['20', '22', '24'];
const arch = process.arch;

const results = [];
for (const major of wanted) {
  if (!/^\d+$/.test(major)) throw new TypeError(`test:node-versions: "${major}" is not a Node major version`);
  const node = registryNode(arch, major);
  const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` };
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\n######## Node ${version}: jest --runInBand ${jestArgs.join(' ')}`);
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
  const result = spawnSync(node, [jest, '--runInBand', ...jestArgs], { cwd: root, env, stdio: 'inherit' });
  results.push({ node: version, jest: result.status === 0 ? 'passed' : `failed (${result.status ?? result.signal})` });
}
console.table(results);
if (results.some((row) => row.jest !== 'passed')) process.exitCode = 1;
