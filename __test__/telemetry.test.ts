/**
 * Telemetry with the real OpenTelemetry SDK in process (in-memory span exporter and metric reader)
 * and a real prom-client registry checked by `promtool check metrics`.
 */
import { execFileSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import {
  CacheKeys,
  CacheService,
  LockService,
  MessageBroker,
  RateLimiter,
  RedisConnection,
  SessionService,
  setLogger,
  defaultLogger,
} from '..';
import { instrumentOpenTelemetry } from '../dist/telemetry/otel';
import { registerPrometheusMetrics } from '../dist/telemetry/prometheus';
import {
  recordingLogger,
  sessionFor,
  sleep,
  startRedis,
  type TestServer,
  uniquePrefix,
  waitUntil,
} from './helpers/redis';

const log = recordingLogger();
let server: TestServer;
let connection: RedisConnection;
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
let stop: () => void;

beforeAll(async () => {
  setLogger(log.logger);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  server = await startRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  stop = instrumentOpenTelemetry({ tracerProvider, meterProvider, detailedMetrics: true });
});

afterAll(async () => {
  stop();
  await connection.close();
  await server.stop();
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  context.disable();
  setLogger(defaultLogger);
});

beforeEach(() => spans.reset());

const named = (name: string) => spans.getFinishedSpans().filter((span) => span.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('OpenTelemetry spans', () => {
  it('a CLIENT span per command, with the database semantic conventions and no values', async () => {
    const cache = new CacheService(connection);
    const key = CacheKeys.user(uniquePrefix('otel'));
    await cache.set(key, { secret: 'value-not-to-leak' }, 60);
    const [set] = named('SET');
    expect(set?.kind).toBe(SpanKind.CLIENT);
    expect(set?.attributes).toMatchObject({
      'db.system.name': 'redis',
      'db.operation.name': 'SET',
      'db.namespace': '0',
      'db.query.text': 'SET ? ? EX ?',
      'server.address': '127.0.0.1',
      'server.port': server.port,
    });
    // The call's time split: JavaScript before the hand-off, native code, network and Redis, the event loop after.
    for (const phase of ['queue', 'native', 'callback']) {
      expect(set?.attributes[`redis_layer.${phase}_ms`]).toBeGreaterThanOrEqual(0);
    }
    expect(set?.attributes['redis_layer.network_ms']).toBeGreaterThan(0);
    expect(JSON.stringify(spans.getFinishedSpans().map((span) => span.attributes))).not.toContain('value-not-to-leak');
    expect(JSON.stringify(spans.getFinishedSpans().map((span) => span.attributes))).not.toContain(key);
  });

  it('nests a command span in the span active when the call was made, across await and the native boundary', async () => {
    const tracer = tracerProvider.getTracer('app');
    await tracer.startActiveSpan('request', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      await connection.getClient().sendCommand(['PING']);
      request.end();
    });
    const [request] = named('request');
    const [ping] = named('PING');
    expect(ping).toBeDefined();
    expect(parentOf(ping as ReadableSpan)).toBe(request?.spanContext().spanId);
    expect(ping?.spanContext().traceId).toBe(request?.spanContext().traceId);
  });

  it("a service call is an INTERNAL span with its outcome, parent of its commands' spans", async () => {
    const cache = new CacheService(connection);
    const key = CacheKeys.post(uniquePrefix('otel'));
    expect(await cache.get(key)).toBeNull();
    await cache.set(key, { id: 1 });
    expect(await cache.get(key)).toEqual({ id: 1 });
    const gets = named('cache get');
    expect(gets.map((span) => span.attributes['redis_layer.outcome'])).toEqual(['miss', 'hit']);
    expect(gets[0]?.kind).toBe(SpanKind.INTERNAL);
    expect(gets[0]?.attributes['redis_layer.key_group']).toBe('post');
    const commandGets = named('GET');
    expect(commandGets.map(parentOf)).toEqual(gets.map((span) => span.spanContext().spanId));
  });

  it('pipelines carry their batch size; rate-limit, lock and session calls their outcomes', async () => {
    await connection.getClient().multi().set('otel:a', '1').get('otel:a').exec();
    const [multi] = named('MULTI');
    expect(multi?.attributes['db.operation.batch.size']).toBe(2);
    expect(multi?.attributes['db.query.text']).toBe('SET GET');

    const limiter = new RateLimiter(connection);
    const id = uniquePrefix('who');
    const config = { windowMs: 60_000, maxRequests: 1 };
    await limiter.checkLimit(id, 'api', config);
    await limiter.checkLimit(id, 'api', config);
    const checks = named('rate-limit checkLimit');
    expect(checks.map((span) => span.attributes['redis_layer.outcome'])).toEqual(['allowed', 'denied']);
    expect(checks[1]?.attributes['redis_layer.rate_limit.allowed']).toBe(false);

    const locks = new LockService(connection);
    const lock = await locks.acquire(uniquePrefix('res'), 5_000);
    await lock?.release();
    const [acquire] = named('lock acquire');
    expect(acquire?.attributes['redis_layer.outcome']).toBe('acquired');
    expect(acquire?.attributes['redis_layer.lock.fencing_token']).toBe(lock?.fencingToken);
    expect(typeof acquire?.attributes['redis_layer.lock.wait_ms']).toBe('number');
    expect(named('lock release')[0]?.attributes['redis_layer.outcome']).toBe('released');

    const sessions = new SessionService(connection);
    const sid = uniquePrefix('sid');
    await sessions.createSession(sid, sessionFor('u1'));
    expect(await sessions.getSession(sid)).not.toBeNull();
    expect(named('session getSession')[0]?.attributes['redis_layer.outcome']).toBe('hit');
    // A session id is a credential: no span carries it.
    expect(JSON.stringify(spans.getFinishedSpans().map((span) => [span.name, span.attributes]))).not.toContain(sid);
  });

  it('a failed command records error.type and the Redis error prefix', async () => {
    await connection.getClient().sendCommand(['SET', 'otel:str', 'x']);
    await expect(connection.getClient().sendCommand(['LPUSH', 'otel:str', 'y'])).rejects.toThrow(/WRONGTYPE/);
    const [lpush] = named('LPUSH');
    expect(lpush?.status.code).toBe(2);
    expect(lpush?.attributes['db.response.status_code']).toBe('WRONGTYPE');
    expect(typeof lpush?.attributes['error.type']).toBe('string');
  });

  it('a CLIENT KILL shows as a disconnect and a reconnect', async () => {
    const events: unknown[] = [];
    const listener = (event: unknown) => events.push(event);
    diagnosticsChannel.subscribe('redis-layer:connection', listener);
    try {
      server.cli('CLIENT', 'KILL', 'TYPE', 'normal');
      await connection
        .getClient()
        .sendCommand(['PING'])
        .catch(() => undefined);
      await waitUntil(() => named('connection reconnected').length > 0, 'the reconnect span', 10_000);
      await waitUntil(() => connection.isConnected, 'the connection', 10_000);
      expect(events).toContainEqual(expect.objectContaining({ kind: 'reconnected', role: 'client' }));
    } finally {
      diagnosticsChannel.unsubscribe('redis-layer:connection', listener);
    }
  });

  it('tells a slow Redis, a busy event loop before the send and one after the reply apart', async () => {
    const client = connection.getClient();
    const key = uniquePrefix('phases');
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // The event loop is blocked, as by a long synchronous handler.
      }
    };
    const phasesOfLastGet = () => {
      const attributes = named('GET').at(-1)?.attributes ?? {};
      return {
        queue: Number(attributes['redis_layer.queue_ms']),
        native: Number(attributes['redis_layer.native_ms']),
        network: Number(attributes['redis_layer.network_ms']),
        callback: Number(attributes['redis_layer.callback_ms']),
      };
    };

    // Redis paused: the time is the network's and Redis's.
    server.cli('CLIENT', 'PAUSE', '300', 'ALL');
    await client.get(key);
    const slowRedis = phasesOfLastGet();
    expect(slowRedis.network).toBeGreaterThanOrEqual(200);
    expect(slowRedis.queue + slowRedis.native + slowRedis.callback).toBeLessThan(100);

    // The thread blocked before the call's batch went out: JavaScript queueing.
    spans.reset();
    const queued = client.get(key);
    busy(300);
    await queued;
    const busyBefore = phasesOfLastGet();
    expect(busyBefore.queue).toBeGreaterThanOrEqual(250);
    expect(busyBefore.network).toBeLessThan(100);

    // The thread blocked after the batch went out: the reply waits for the event loop.
    spans.reset();
    const waiting = client.get(key);
    queueMicrotask(() => busy(300));
    await waiting;
    const busyAfter = phasesOfLastGet();
    expect(busyAfter.callback).toBeGreaterThanOrEqual(200);
    expect(busyAfter.queue + busyAfter.network).toBeLessThan(100);
  });

  it('records db.client.operation.duration in seconds, and its phases', async () => {
    await new CacheService(connection).get(CacheKeys.user('metrics'));
    await reader.forceFlush();
    const exported = metricExporter
      .getMetrics()
      .flatMap((batch) => batch.scopeMetrics.flatMap((scope) => scope.metrics));
    const byName = new Map(exported.map((metric) => [metric.descriptor.name, metric]));
    const duration = byName.get('db.client.operation.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const point = duration?.dataPoints.find((p) => p.attributes['db.operation.name'] === 'GET');
    expect(point?.attributes['db.system.name']).toBe('redis');
    const phases = byName.get('redis_layer.client.phase.duration');
    expect(phases?.descriptor.unit).toBe('s');
    const phaseNames = new Set(phases?.dataPoints.map((p) => p.attributes['redis_layer.phase']));
    expect([...phaseNames].sort()).toEqual(['callback', 'native', 'network', 'queue']);
    expect(byName.has('redis_layer.connection.events')).toBe(true);
  });

  it('with no subscriber, nothing is published', async () => {
    stop();
    try {
      await new CacheService(connection).set('otel:quiet', 1);
      expect(spans.getFinishedSpans()).toEqual([]);
      expect(diagnosticsChannel.tracingChannel('redis-layer:command').hasSubscribers).toBe(false);
    } finally {
      stop = instrumentOpenTelemetry({ tracerProvider, meterProvider, detailedMetrics: true });
    }
  });
});

describe('Prometheus', () => {
  it('registers on the given registry with a prefix, and its output passes promtool check metrics', async () => {
    const registry = new Registry();
    const stopMetrics = registerPrometheusMetrics({ registry, prefix: 'app_redis_' });
    try {
      const cache = new CacheService(connection);
      const key = CacheKeys.userProfile(uniquePrefix('prom'));
      await cache.get(key);
      await cache.set(key, { name: 'Ada' });
      await cache.get(key);
      const limiter = new RateLimiter(connection);
      await limiter.checkLimit(uniquePrefix('ip'), 'login', { windowMs: 60_000, maxRequests: 5 });
      const broker = new MessageBroker(connection);
      await broker.publish(uniquePrefix('ch'), { type: 't', data: 1 });
      const channel = uniquePrefix('ch');
      let received = 0;
      await broker.subscribe(channel, () => {
        received++;
      });
      while ((await broker.publish(channel, { type: 't', data: 2 })) === 0) await sleep(10);
      while (received === 0) await sleep(10);
      const text = await registry.metrics();
      expect(text).toMatch(/app_redis_broker_delivered_total\{socket="broker"\} [1-9]/);
      expect(text).toContain('app_redis_broker_backlog{socket="broker"}');
      expect(text).toContain(
        'app_redis_cache_requests_total{operation="get",key_group="user:profile",outcome="miss"} 1',
      );
      expect(text).toContain(
        'app_redis_cache_requests_total{operation="get",key_group="user:profile",outcome="hit"} 1',
      );
      expect(text).toContain('app_redis_rate_limit_decisions_total{limit="login",outcome="allowed"} 1');
      expect(text).toContain('app_redis_broker_published_total{outcome="no-subscriber"} 1');
      expect(text).toMatch(/app_redis_command_duration_seconds_bucket\{le="[^"]+",command="GET",socket="client"\}/);
      expect(text).toContain('app_redis_commands_in_flight{socket="client"} 0');
      for (const phase of ['queue', 'native', 'network', 'callback']) {
        expect(text).toMatch(
          new RegExp(`app_redis_command_phase_seconds_count\\{command="GET",socket="client",phase="${phase}"\\} [1-9]`),
        );
      }
      expect(text).not.toContain(key);
      // Debian's prometheus package; .ci/run installs it.
      const checked = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(checked).toBe('');
    } finally {
      stopMetrics();
    }
    expect((await registry.metrics()).trim()).toBe('');
  });

  it('rejects a missing registry or a bad prefix, naming the option', () => {
    expect(() => registerPrometheusMetrics({} as never)).toThrow(/options\.registry/);
    expect(() => registerPrometheusMetrics({ registry: new Registry(), prefix: 'bad-prefix' })).toThrow(
      /options\.prefix/,
    );
  });
});

it('keeps the context a caller had: no span leaks into unrelated work', async () => {
  spans.reset();
  await new CacheService(connection).get(CacheKeys.user('ctx'));
  expect(trace.getActiveSpan()).toBeUndefined();
});
