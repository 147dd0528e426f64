/**
 * Installs the packed package the way a user does (tarballs, no Rust on PATH, no
 * install scripts) into a fresh TypeScript project and uses it from CJS, ESM and
 * strict TypeScript against a real Redis.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testRedis, TestServer } from './helpers/redis';

const root = path.resolve(__dirname, '..');
const binaryName = 'redis-layer.linux-x64-gnu.node';
let server: TestServer;
let project: string;
let pathWithoutRust: string;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, PATH: pathWithoutRust, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${failed.message}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
  }
}

beforeAll(async () => {
  server = await testRedis();
  pathWithoutRust = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !fs.existsSync(path.join(dir, 'cargo')) && !fs.existsSync(path.join(dir, 'rustc')))
    .join(path.delimiter);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-pack-'));
  const platformDir = path.join(work, 'platform');
  fs.cpSync(path.join(root, 'npm', 'linux-x64-gnu'), platformDir, { recursive: true });
  fs.copyFileSync(path.join(root, binaryName), path.join(platformDir, binaryName));
  const packed = path.join(work, 'tarballs');
  fs.mkdirSync(packed);
  const npm = (args: string[], cwd: string) => run('npm', args, cwd);
  npm(['pack', '--pack-destination', packed, '--silent'], root);
  npm(['pack', '--pack-destination', packed, '--silent'], platformDir);
  const tarballs = fs.readdirSync(packed).map((file) => path.join(packed, file));
  expect(tarballs).toHaveLength(2);

  project = path.join(work, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  npm(['install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', ...tarballs], project);
}, 180_000);

afterAll(async () => {
  await server.stop();
});

it('ships the prebuilt binary in the platform package and lists it in optionalDependencies', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  expect(pkg.optionalDependencies).toHaveProperty('redis-layer-linux-x64-gnu', pkg.version);
  expect(fs.existsSync(path.join(project, 'node_modules', 'redis-layer-linux-x64-gnu', binaryName))).toBe(true);
  expect(fs.existsSync(path.join(project, 'node_modules', 'redis-layer', binaryName))).toBe(false);
});

it('type-checks `import { cacheService, connectRedis } from "redis-layer"` under strict and runs it', () => {
  fs.writeFileSync(
    path.join(project, 'main.ts'),
    `import { cacheService, connectRedis, redisConnection, CacheKeys, messageBroker, Message } from 'redis-layer';
interface User { id: string; name: string; joined: string }
// Seed call sites that must keep compiling: the seed's callbacks are \`(message: Message) => void\`,
// which any arrow function satisfies, whatever it returns.
export function seedCallSites(seen: Message[]): Promise<void>[] {
  const collect = (message: Message) => seen.push(message);
  return [messageBroker.subscribe('chan', collect), messageBroker.unsubscribe('chan', collect)];
}
async function main(): Promise<void> {
  await connectRedis();
  const user: User = { id: 'pack-1', name: 'Packed', joined: new Date(0).toISOString() };
  const stored: boolean = await cacheService.set(CacheKeys.user(user.id), user, 60);
  const back: User | null = await cacheService.get<User>(CacheKeys.user(user.id));
  const many: (User | null)[] = await cacheService.mget<User>([CacheKeys.user(user.id)]);
  console.log(JSON.stringify({ stored, name: back?.name, many: many.length }));
  await redisConnection.close();
}
main();
`,
  );
  fs.writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, target: 'ES2022', module: 'commonjs', moduleResolution: 'node', types: [], skipLibCheck: false, outDir: 'out' },
      files: ['main.ts'],
    }),
  );
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], project);
  const output = run(process.execPath, [path.join(project, 'out', 'main.js')], project, { REDIS_URL: server.url });
  expect(JSON.parse(output.trim())).toEqual({ stored: true, name: 'Packed', many: 1 });
});

it('works from CommonJS require and from ESM import', () => {
  fs.writeFileSync(
    path.join(project, 'cjs.cjs'),
    `const { cacheService, connectRedis, redisConnection } = require('redis-layer');
(async () => { await connectRedis(); await cacheService.set('pack:cjs', { via: 'cjs' }); console.log(JSON.stringify(await cacheService.get('pack:cjs'))); await redisConnection.close(); })();`,
  );
  fs.writeFileSync(
    path.join(project, 'esm.mjs'),
    `import { cacheService, connectRedis, redisConnection } from 'redis-layer';
await connectRedis(); await cacheService.set('pack:esm', { via: 'esm' }); console.log(JSON.stringify(await cacheService.get('pack:esm'))); await redisConnection.close();`,
  );
  const env = { REDIS_URL: server.url };
  expect(JSON.parse(run(process.execPath, ['cjs.cjs'], project, env).trim())).toEqual({ via: 'cjs' });
  expect(JSON.parse(run(process.execPath, ['esm.mjs'], project, env).trim())).toEqual({ via: 'esm' });
});
