// redis-layer/keyv under cache-manager 7 (get/set/del/ttl, wrap with refreshThreshold) and under a
// small Nest app (@nestjs/cache-manager's CacheModule and CacheInterceptor, @nestjs/testing). Both
// are ESM-only, so they run under vitest.
import 'reflect-metadata';
import { CACHE_MANAGER, CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, type INestApplication, Inject, Param, UseInterceptors } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { type Cache, createCache } from 'cache-manager';
import Keyv from 'keyv';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../..';
import { KeyvRedisLayer } from '../../dist/adapters/keyv';
import { startRedis, type TestServer, uniquePrefix } from '../helpers/redis';

let server: TestServer;
let connection: RedisConnection;

beforeAll(async () => {
  server = await startRedis();
  connection = new RedisConnection({ url: server.url, commandTimeoutMs: 1000 });
  await connection.connect();
});

afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

const store = (namespace: string) => new Keyv({ store: new KeyvRedisLayer({ connection }), namespace });

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('cache-manager 7 on redis-layer/keyv', () => {
  it('gets, sets with a TTL in ms, reads the TTL and deletes, with the value in Redis', async () => {
    const namespace = uniquePrefix('cm');
    const cache: Cache = createCache({ stores: [store(namespace)] });
    const before = Date.now();
    await cache.set('user:1', { id: '1', name: 'Ada' }, 10_000);
    expect(await cache.get('user:1')).toEqual({ id: '1', name: 'Ada' });
    const expires = (await cache.ttl('user:1')) as number;
    expect(expires).toBeGreaterThanOrEqual(before + 9_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 10_000);
    const ttl = Number(server.cli('PTTL', `${namespace}:user:1`));
    expect(ttl).toBeGreaterThan(9_000);
    expect(server.cli('GET', `${namespace}:user:1`)).toContain('"name":"Ada"');
    await cache.del('user:1');
    expect(await cache.get('user:1')).toBeUndefined();
    expect(server.cli('EXISTS', `${namespace}:user:1`)).toBe('0');
  });

  it('wrap loads once on a miss, then refreshes in the background once the TTL left is under refreshThreshold', async () => {
    const namespace = uniquePrefix('cm');
    const cache = createCache({ stores: [store(namespace)] });
    let loads = 0;
    const load = async () => ({ version: ++loads });
    expect(await cache.wrap('feed', load, 1000, 700)).toEqual({ version: 1 });
    expect(await cache.wrap('feed', load, 1000, 700)).toEqual({ version: 1 });
    expect(loads).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // 600 ms left, under the threshold: the cached value now, a reload behind it.
    expect(await cache.wrap('feed', load, 1000, 700)).toEqual({ version: 1 });
    await waitFor(() => loads === 2, 'the background refresh');
    await waitFor(async () => (await cache.get<{ version: number }>('feed'))?.version === 2, 'the refreshed value');
    expect(server.cli('GET', `${namespace}:feed`)).toContain('"version":2');
    expect(Number(server.cli('PTTL', `${namespace}:feed`))).toBeGreaterThan(700);
  });
});

describe('a Nest app with CacheModule and CacheInterceptor on redis-layer/keyv', () => {
  let app: INestApplication;
  let namespace: string;
  const handled: string[] = [];

  @Controller('posts')
  @UseInterceptors(CacheInterceptor)
  class PostsController {
    constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}

    @Get(':id')
    post(@Param('id') id: string) {
      handled.push(id);
      return { id, title: `Post ${id}` };
    }
  }

  beforeAll(async () => {
    namespace = uniquePrefix('nest');
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.register({ stores: [store(namespace)], ttl: 60_000 })],
      controllers: [PostsController],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers the second GET from Redis without running the handler', async () => {
    const first = await request(app.getHttpServer()).get('/posts/7').expect(200);
    const second = await request(app.getHttpServer()).get('/posts/7').expect(200);
    expect(first.body).toEqual({ id: '7', title: 'Post 7' });
    expect(second.body).toEqual(first.body);
    expect(handled).toEqual(['7']);
    const keys = server.cli('--scan', '--pattern', `${namespace}:*`).split('\n').filter(Boolean);
    expect(keys).toEqual([`${namespace}:/posts/7`]);
    expect(server.cli('GET', keys[0] as string)).toContain('"title":"Post 7"');
    expect(Number(server.cli('PTTL', keys[0] as string))).toBeGreaterThan(50_000);
    // The controller's injected cache manager reads the same entry.
    expect(await app.get(PostsController).cache.get('/posts/7')).toEqual({ id: '7', title: 'Post 7' });
  });
});
