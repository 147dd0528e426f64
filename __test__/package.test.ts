/**
 * Installs the packed package the way a user does (tarballs, no Rust on PATH, no
 * install scripts) into a fresh TypeScript project and uses it from CJS, ESM and
 * strict TypeScript against a real Redis.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testRedis, type TestServer } from './helpers/redis';

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

/** Compiles one file of the installed project with strict, node-resolution settings (a user's default setup). */
function typecheck(
  file: string,
  output: { outDir: string } | { noEmit: true },
  stricter: Record<string, boolean> = {},
): void {
  const config = path.join(project, `tsconfig.${path.basename(file, '.ts')}.json`);
  const compilerOptions = {
    strict: true,
    target: 'ES2022',
    module: 'commonjs',
    moduleResolution: 'node',
    types: [],
    skipLibCheck: false,
    ...output,
    ...stricter,
  };
  fs.writeFileSync(config, JSON.stringify({ compilerOptions, files: [file] }));
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], project);
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
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', private: true }),
  );
  npm(['install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', ...tarballs], project);
}, 180_000);

afterAll(async () => {
  await server.stop();
});

// The release adds the platform packages to optionalDependencies (napi pre-publish); here both tarballs are installed.
it('ships the prebuilt binary in the platform package, not in the main package', () => {
  expect(fs.existsSync(path.join(project, 'node_modules', 'redis-layer-linux-x64-gnu', binaryName))).toBe(true);
  expect(fs.existsSync(path.join(project, 'node_modules', 'redis-layer', binaryName))).toBe(false);
});

it('type-checks `import { cacheService, connectRedis } from "redis-layer"` under strict and runs it', () => {
  fs.writeFileSync(
    path.join(project, 'main.ts'),
    `import { cacheService, connectRedis, redisConnection, CacheKeys } from 'redis-layer';
interface User { id: string; name: string; joined: string }
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
  typecheck('main.ts', { outDir: 'out' });
  const output = run(process.execPath, [path.join(project, 'out', 'main.js')], project, { REDIS_URL: server.url });
  expect(JSON.parse(output.trim())).toEqual({ stored: true, name: 'Packed', many: 1 });
});

it("type-checks the seed's call sites under strict: every signature, inference and Promise<void> forward", () => {
  fs.writeFileSync(path.join(project, 'seed.ts'), seedCallSitesSource);
  typecheck('seed.ts', { noEmit: true });
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

it('ships redis-layer/testing: typed under node resolution, and its Jest globalSetup/globalTeardown pair', () => {
  fs.writeFileSync(
    path.join(project, 'throwaway.ts'),
    `import { RedisConnection } from 'redis-layer';
import { startTestRedis, type TestRedis } from 'redis-layer/testing';
async function main(): Promise<void> {
  const server: TestRedis = await startTestRedis();
  const connection = new RedisConnection({ url: server.url });
  await connection.connect();
  await connection.getClient().set('throwaway', 'yes');
  console.log(JSON.stringify({ owned: server.owned, value: await connection.getClient().get('throwaway') }));
  await connection.close();
  await server.stop();
}
main();
`,
  );
  typecheck('throwaway.ts', { outDir: 'out' });
  const output = run(process.execPath, [path.join(project, 'out', 'throwaway.js')], project);
  expect(JSON.parse(output.trim())).toEqual({ owned: true, value: 'yes' });

  // A user's Jest run: the pair starts one server, REDIS_URL reaches the test, the server stops after.
  const urlFile = path.join(project, 'jest-url.txt');
  fs.writeFileSync(
    path.join(project, 'uses-redis.test.js'),
    `const fs = require('node:fs');
const { cacheService, connectRedis, redisConnection } = require('redis-layer');
test('REDIS_URL reaches the throwaway server', async () => {
  fs.writeFileSync(${JSON.stringify(urlFile)}, process.env.REDIS_URL);
  await connectRedis();
  await cacheService.set('from-jest', { ok: true });
  expect(await cacheService.get('from-jest')).toEqual({ ok: true });
  await redisConnection.close();
});
`,
  );
  const config = {
    rootDir: project,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/uses-redis.test.js'],
    globalSetup: 'redis-layer/testing/jest-global-setup',
    globalTeardown: 'redis-layer/testing/jest-global-teardown',
  };
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
  run(process.execPath, [jest, '--ci', '--config', JSON.stringify(config)], project, { REDIS_URL: '' });
  const url = fs.readFileSync(urlFile, 'utf8');
  expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  expect(url).not.toBe(server.url);
  const port = Number(new URL(url).port);
  const ping = spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' });
  expect(`${ping.stdout}${ping.stderr}`).toMatch(/Connection refused/);
});

it('types catch mistakes under strict, noUncheckedIndexedAccess and exactOptionalPropertyTypes', () => {
  // Each @ts-expect-error line must stay an error: tsc fails on an unused one.
  fs.writeFileSync(
    path.join(project, 'honest.ts'),
    `import {
  CacheService, RedisConnection, RedisLayerError, rateLimiter, sessionService, userCacheService,
  type Jsonified, type MessageBrokerApi, type RateLimiterApi, type RedisLayerErrorCode, type SessionData,
  type SessionServiceApi,
} from 'redis-layer';
declare const env: Record<string, string | undefined>;
interface User { id: string; name: string; joined: Date; nickname?: string }

export const connection = new RedisConnection({ url: env.REDIS_URL, password: env.REDIS_PASSWORD });
const cache = new CacheService(connection);

export async function reads(id: string): Promise<string> {
  const annotated: User | null = await userCacheService.getUser(id);
  const guessed = await userCacheService.getUser(id);
  // @ts-expect-error the default is unknown, not any: a typo cannot compile
  guessed?.nmae;
  const loaded = await cache.getOrSet(\`user:\${id}\`, async (): Promise<User | null> => null, 60);
  // @ts-expect-error a cached Date comes back as its ISO string
  const when: Date | undefined = loaded?.joined;
  const text: string | undefined = loaded?.joined;
  const shape: Jsonified<User> | null = loaded;
  const info = await cache.getOrSetWithInfo('k', () => 1, { ttlSeconds: 5, cacheNullSeconds: undefined });
  const hit: boolean = info.hit;
  return [annotated?.name, text, shape?.nickname, String(when), String(hit)].join();
}

export async function commands(): Promise<unknown> {
  return connection.getClient().sendCommand(['HINCRBY', 'h', 'f', 2]);
}

export function codeOf(error: unknown): RedisLayerErrorCode | undefined {
  if (!(error instanceof RedisLayerError)) return undefined;
  // @ts-expect-error not a code redis-layer raises
  if (error.code === 'ERR_NO_SUCH_CODE') return undefined;
  return error.code;
}

class FakeSessions implements Pick<SessionServiceApi, 'deleteSession' | 'getSession'> {
  async deleteSession(_id: string): Promise<true> { return true; }
  async getSession(_id: string): Promise<SessionData | null> { return null; }
}
class FakeLimiter implements RateLimiterApi {
  async checkLimit() { return { allowed: true, remaining: 1, resetTime: 0, retryAfterMs: 0, degraded: false }; }
  async resetLimit(): Promise<boolean> { return true; }
}
export const doubles: [SessionServiceApi['deleteSession'], RateLimiterApi, MessageBrokerApi | undefined] = [
  new FakeSessions().deleteSession, new FakeLimiter(), undefined,
];
export const real: [SessionServiceApi, RateLimiterApi] = [sessionService, rateLimiter];
`,
  );
  typecheck('honest.ts', { noEmit: true }, { noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true });
});

/** Each adapter subpath, the framework it needs, and an export it must have. */
const adapters = [
  { subpath: 'redis-layer/express-session', framework: 'express-session', exported: 'RedisSessionStore' },
  { subpath: 'redis-layer/keyv', framework: 'keyv', exported: 'KeyvRedisLayer' },
  { subpath: 'redis-layer/express-rate-limit', framework: 'express-rate-limit', exported: 'RedisRateLimitStore' },
  { subpath: 'redis-layer/fastify-rate-limit', framework: '@fastify/rate-limit', exported: 'fastifyRateLimitStore' },
  { subpath: 'redis-layer/otel', framework: '@opentelemetry/api', exported: 'instrumentOpenTelemetry' },
  { subpath: 'redis-layer/prometheus', framework: 'prom-client', exported: 'registerPrometheusMetrics' },
];
const frameworks = adapters.map((adapter) => adapter.framework);

it('loads the main entry, from CJS and ESM, with none of the frameworks installed and none loaded', () => {
  for (const framework of frameworks) {
    expect(fs.existsSync(path.join(project, 'node_modules', framework))).toBe(false);
  }
  const loaded = `const frameworks = ${JSON.stringify(frameworks)};
const inNodeModules = (file) => frameworks.filter((name) => file.includes('/node_modules/' + name + '/'));`;
  fs.writeFileSync(
    path.join(project, 'bare.cjs'),
    `${loaded}\nrequire('redis-layer');\nconsole.log(JSON.stringify(Object.keys(require.cache).flatMap(inNodeModules)));`,
  );
  fs.writeFileSync(
    path.join(project, 'bare.mjs'),
    `import { createRequire } from 'node:module';
import { CacheService } from 'redis-layer';
${loaded}
const loadedCjs = Object.keys(createRequire(import.meta.url).cache).flatMap(inNodeModules);
console.log(typeof CacheService, JSON.stringify(loadedCjs));`,
  );
  expect(JSON.parse(run(process.execPath, ['bare.cjs'], project).trim())).toEqual([]);
  expect(run(process.execPath, ['bare.mjs'], project).trim()).toBe('function []');
});

it('imports each adapter and telemetry subpath from CJS and ESM, and type-checks it, with its framework installed', () => {
  // The versions the repository tests against, mostly from npm's cache.
  const pinned = frameworks.map((framework) => {
    const manifest = path.join(root, 'node_modules', framework, 'package.json');
    return `${framework}@${(JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version}`;
  });
  run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', ...pinned], project);
  // Installed or not, the main entry loads none of them.
  expect(JSON.parse(run(process.execPath, ['bare.cjs'], project).trim())).toEqual([]);
  expect(run(process.execPath, ['bare.mjs'], project).trim()).toBe('function []');
  for (const { subpath, exported } of adapters) {
    const name = subpath.replace(/\W/g, '_');
    fs.writeFileSync(path.join(project, `${name}.cjs`), `console.log(typeof require('${subpath}').${exported});`);
    fs.writeFileSync(
      path.join(project, `${name}.mjs`),
      `import { ${exported} } from '${subpath}';\nconsole.log(typeof ${exported});`,
    );
    expect(`${subpath} cjs ${run(process.execPath, [`${name}.cjs`], project).trim()}`).toBe(`${subpath} cjs function`);
    expect(`${subpath} esm ${run(process.execPath, [`${name}.mjs`], project).trim()}`).toBe(`${subpath} esm function`);
  }
  fs.writeFileSync(
    path.join(project, 'adapters.ts'),
    `import { RedisConnection } from 'redis-layer';
import { RedisSessionStore } from 'redis-layer/express-session';
import { KeyvRedisLayer } from 'redis-layer/keyv';
import { RedisRateLimitStore } from 'redis-layer/express-rate-limit';
import { fastifyRateLimitStore } from 'redis-layer/fastify-rate-limit';
import { instrumentOpenTelemetry } from 'redis-layer/otel';
import { registerPrometheusMetrics } from 'redis-layer/prometheus';
import { Registry } from 'prom-client';
const connection = new RedisConnection();
export const stopTracing: () => void = instrumentOpenTelemetry();
export const stopMetrics: () => void = registerPrometheusMetrics({ registry: new Registry(), prefix: 'app_' });
export const stores = [
  new RedisSessionStore({ connection, prefix: 'sess:', ownerField: 'userId' }),
  new KeyvRedisLayer({ connection }),
  new RedisRateLimitStore({ connection, prefix: 'rl:' }),
  fastifyRateLimitStore({ connection }),
] as const;
`,
  );
  typecheck('adapters.ts', { noEmit: true }, { skipLibCheck: true });
}, 120_000);

/** seed.ts of the installed project: never run, only type-checked, so it needs no Redis. */
const seedCallSitesSource = `// The seed's call sites, as the backend wrote them against its own Redis layer. Type-checked only.
import {
  CacheKeys, cacheService, userCacheService, postCacheService, sessionService, messageBroker, rateLimiter,
  cacheWarmingService, redisConnection, connectRedis,
} from 'redis-layer';

// Types the backend declares itself (the seed imports User and Post and keeps the others module-private).
interface User { id: string; name: string; email: string; friendIds: string[] }
interface Post { id: string; authorId: string; content: string; likes: number }
interface SessionData {
  userId: string; email: string; username: string; role: string; permissions: string[];
  lastActivity: Date; ipAddress: string; userAgent: string;
}
interface Message { type: string; data: any; timestamp: Date; messageId: string }
interface RateLimitConfig { windowMs: number; maxRequests: number; message?: string }

// The seed's public signatures, as a backend declares them for dependency injection or test doubles.
export interface SeedServices {
  cache: {
    get<T>(key: string): Promise<T | null>;
    set<T>(key: string, value: T, ttlSeconds?: number): Promise<boolean>;
    del(key: string): Promise<boolean>;
    exists(key: string): Promise<boolean>;
    mget<T>(keys: string[]): Promise<(T | null)[]>;
    mset<T>(keyValuePairs: Record<string, T>, ttlSeconds?: number): Promise<boolean>;
    expire(key: string, ttlSeconds: number): Promise<boolean>;
    ttl(key: string): Promise<number>;
    flushPattern(pattern: string): Promise<number>;
  };
  users: {
    getUser(userId: string): Promise<User | null>;
    setUser(user: User): Promise<void>;
    getUserFriends(userId: string): Promise<string[] | null>;
    setUserFriends(userId: string, friendIds: string[]): Promise<void>;
    getUserProfile(userId: string): Promise<User | null>;
    setUserProfile(user: User): Promise<void>;
    invalidateUser(userId: string): Promise<void>;
    invalidateUserFriends(userId: string): Promise<void>;
    warmUserCache(user: User): Promise<void>;
  };
  posts: {
    getPost(postId: string): Promise<Post | null>;
    setPost(post: Post): Promise<void>;
    getUserFeed(userId: string, page: number): Promise<Post[] | null>;
    setUserFeed(userId: string, page: number, posts: Post[]): Promise<void>;
    getPostComments(postId: string): Promise<any[] | null>;
    setPostComments(postId: string, comments: any[]): Promise<void>;
    getPostReactions(postId: string): Promise<any[] | null>;
    setPostReactions(postId: string, reactions: any[]): Promise<void>;
    invalidatePost(postId: string): Promise<void>;
    invalidateAllFeeds(): Promise<void>;
    invalidateUserFeeds(userId: string): Promise<void>;
    warmPostCache(post: Post): Promise<void>;
  };
  sessions: {
    createSession(sessionId: string, sessionData: SessionData): Promise<void>;
    getSession(sessionId: string): Promise<SessionData | null>;
    updateSession(sessionId: string, updates: Partial<SessionData>): Promise<void>;
    deleteSession(sessionId: string): Promise<void>;
    deleteUserSessions(userId: string): Promise<void>;
    extendSession(sessionId: string): Promise<void>;
    getActiveSessions(userId: string): Promise<SessionData[]>;
  };
  broker: {
    subscribe(channel: string, callback: (message: Message) => void): Promise<void>;
    unsubscribe(channel: string, callback: (message: Message) => void): Promise<void>;
    publish(channel: string, message: Omit<Message, 'timestamp' | 'messageId'>): Promise<void>;
  };
  limiter: {
    checkLimit(identifier: string, type: string, config: RateLimitConfig): Promise<{ allowed: boolean; remaining: number; resetTime: number }>;
    resetLimit(identifier: string, type: string): Promise<void>;
  };
  warming: {
    warmUserCache(userIds: string[]): Promise<void>;
    warmPostCache(postIds: string[]): Promise<void>;
    warmPopularContent(): Promise<void>;
    scheduleCacheWarming(): Promise<void>;
  };
  connection: { connect(): Promise<void>; close(): Promise<void> };
}
export const seedServices: SeedServices = {
  cache: cacheService, users: userCacheService, posts: postCacheService, sessions: sessionService, broker: messageBroker,
  limiter: rateLimiter, warming: cacheWarmingService, connection: redisConnection,
};

export function seedKeys(id: string, ids: string[]): string[] {
  return [
    CacheKeys.user(id), CacheKeys.userFriends(id), CacheKeys.userProfile(id), CacheKeys.userSettings(id), CacheKeys.post(id),
    CacheKeys.postComments(id), CacheKeys.postReactions(id), CacheKeys.userFeed(id, 1), CacheKeys.session(id),
    CacheKeys.userSession(id), CacheKeys.conversation(id), CacheKeys.conversationMessages(id, 1), CacheKeys.userNotifications(id),
    CacheKeys.unreadCount(id), CacheKeys.searchSuggestions('q'), CacheKeys.trendingPosts(), CacheKeys.rateLimit('api', id),
    CacheKeys.lock(id), ...ids.map(CacheKeys.post),
  ];
}

export async function seedCache(user: User): Promise<number> {
  const key = CacheKeys.user(user.id);
  const stored: boolean = await cacheService.set(key, user, 3600);
  const cached: User | null = await cacheService.get(key);
  const unread = (await cacheService.get<number>(CacheKeys.unreadCount(user.id))) ?? 0;
  const many: (User | null)[] = await cacheService.mget<User>([key]);
  const all: boolean = await cacheService.mset<User>({ [key]: user }, 60);
  if ((await cacheService.ttl(key)) > 0 && (await cacheService.exists(key))) await cacheService.expire(key, 60);
  void [stored, cached, many, all, await cacheService.del(key)];
  return unread + (await cacheService.flushPattern('feed:*'));
}

export async function seedUsers(user: User, ids: string[]): Promise<string | undefined> {
  const cached: User | null = await userCacheService.getUser(user.id);
  const profile = await userCacheService.getUserProfile<User>(user.id);
  const friends: string[] = (await userCacheService.getUserFriends(user.id)) ?? user.friendIds;
  await userCacheService.setUserFriends(user.id, friends);
  await userCacheService.setUserProfile(user);
  await userCacheService.invalidateUser(user.id);
  await userCacheService.invalidateUserFriends(user.id);
  await Promise.all([user].map((u) => userCacheService.warmUserCache(u)));
  const found = await Promise.all(ids.map((id) => userCacheService.getUser<User>(id)));
  return cached?.name ?? profile?.email ?? found[0]?.name;
}
// Promise<void> wrappers that forward the seed's promise.
export async function saveUser(user: User): Promise<void> { return await userCacheService.setUser(user); }
export const savePost = (post: Post): Promise<void> => postCacheService.setPost(post);

export async function seedPosts(post: Post, userId: string): Promise<number> {
  const cached: Post | null = await postCacheService.getPost(post.id);
  const feed: Post[] | null = await postCacheService.getUserFeed(userId, 1);
  await postCacheService.setUserFeed(userId, 1, feed ?? [post]);
  const comments: any[] = (await postCacheService.getPostComments(post.id)) ?? [];
  await postCacheService.setPostComments(post.id, comments);
  const reactions = await postCacheService.getPostReactions(post.id);
  await postCacheService.setPostReactions(post.id, reactions ?? [{ type: 'like', userId }]);
  await postCacheService.invalidatePost(post.id);
  await postCacheService.invalidateAllFeeds();
  await postCacheService.invalidateUserFeeds(userId);
  await postCacheService.warmPostCache(post);
  return (cached?.likes ?? 0) + (feed?.[0]?.likes ?? 0);
}

export async function seedSessions(sessionId: string, data: SessionData): Promise<number> {
  await sessionService.createSession(sessionId, { ...data, lastActivity: new Date() });
  const session: SessionData | null = await sessionService.getSession(sessionId);
  const updates: Partial<SessionData> = { role: 'admin', permissions: ['posts:delete'] };
  await sessionService.updateSession(sessionId, updates);
  await sessionService.extendSession(sessionId);
  const active: SessionData[] = await sessionService.getActiveSessions(data.userId);
  await sessionService.deleteUserSessions(data.userId);
  return (session?.lastActivity.getTime() ?? 0) + active.length;
}
// Methods the seed typed Promise<void> and redis-layer resolves to a value, forwarded where void is expected.
export async function logout(sessionId: string): Promise<void> { return await sessionService.deleteSession(sessionId); }
export const seedVoidForwards: Array<() => Promise<void>> = [
  () => sessionService.updateSession('s', { lastActivity: new Date() }),
  () => sessionService.extendSession('s'),
  () => sessionService.deleteUserSessions('u'),
  () => rateLimiter.resetLimit('ip', 'api'),
];

export class SeedListener {
  handled = 0;
  private readonly handlers: Set<(message: Message) => void> = new Set();
  private onMessage(message: Message): void { this.handled += message.timestamp.getTime(); }
  async start(log: (text: string) => void): Promise<void> {
    const handler = (message: Message) => log(message.type);
    this.handlers.add(handler);
    await messageBroker.subscribe('posts', handler);
    await messageBroker.subscribe('posts', this.onMessage.bind(this));
    await messageBroker.subscribe('posts', async (message) => { log(String(message.data.postId)); });
    // The seed's callback type is \`(message: Message) => void\`, which any arrow function satisfies.
    const seen: Message[] = [];
    await messageBroker.subscribe('posts', (message) => seen.push(message));
    for (const h of this.handlers) await messageBroker.unsubscribe('posts', h);
  }
  notify(payload: Omit<Message, 'timestamp' | 'messageId'>): Promise<void> { return messageBroker.publish('posts', payload); }
}

const apiLimit: RateLimitConfig = { windowMs: 60_000, maxRequests: 100, message: 'Too many requests' };
export async function seedRateLimit(ip: string): Promise<{ allowed: boolean; remaining: number; resetTime: number }> {
  const { allowed, remaining, resetTime } = await rateLimiter.checkLimit(ip, 'api', apiLimit);
  if (!allowed) throw new Error(apiLimit.message + ' ' + remaining + ' ' + resetTime);
  return rateLimiter.checkLimit(ip, 'login', { windowMs: 900_000, maxRequests: 5 });
}

export async function seedStartup(ids: string[]): Promise<void> {
  const start: () => Promise<void> = connectRedis;
  await start();
  await redisConnection.connect();
  const client = redisConnection.getClient();
  const receivers: number = await redisConnection.getPublisher().publish('posts', JSON.stringify({ type: 'ping' }));
  void [client, redisConnection.getSubscriber(), receivers];
  await cacheWarmingService.warmUserCache(ids);
  await cacheWarmingService.warmPostCache(ids);
  await cacheWarmingService.warmPopularContent();
  await cacheWarmingService.scheduleCacheWarming();
  await redisConnection.close();
}
`;
