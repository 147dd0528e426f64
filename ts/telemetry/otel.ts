/**
 * `redis-layer/otel`: spans and metrics for OpenTelemetry, through `@opentelemetry/api` only (the
 * application brings the SDK). Subscribes to redis-layer's diagnostics channels:
 *
 * - a CLIENT span per Redis command, pipeline or script, named after the command, with the database
 *   semantic conventions (`db.system.name`, `db.operation.name`, `db.namespace`, `server.address`,
 *   `server.port`, `db.query.text` with every argument as `?`, `db.operation.batch.size`,
 *   `error.type`, `db.response.status_code` = the Redis error prefix); its parent is the span active
 *   when the call was made, or the service operation it ran inside;
 * - an INTERNAL span per service operation (`cache get`, `rateLimit checkLimit`…) with its outcome;
 * - `db.client.operation.duration` (s), and the four parts of it redis-layer can tell apart, on each
 *   command span (`redis_layer.queue_ms`: JavaScript, call to hand-off to native code;
 *   `redis_layer.native_ms`: native code, to the socket write; `redis_layer.network_ms`: network and
 *   Redis, to the reply; `redis_layer.callback_ms`: until the event loop took the reply) and, with
 *   `detailedMetrics`, as the histogram `redis_layer.client.phase.duration` by `redis_layer.phase`
 *   (`queue`, `native`, `network`, `callback`), with `redis_layer.operation.duration` per service call;
 * - `redis_layer.connection.events`, counting connects, reconnects, disconnects and failed attempts;
 * - `redis_layer.broker.delivered` / `.dropped` (counters) and `.backlog` (messages waiting for callbacks);
 * - `redis_layer.local_cache.*`: the local cache tiers' hits, misses, invalidations, evictions, flushes
 *   (counters), entries and bytes (gauges).
 */
import {
  type Attributes,
  context,
  type MeterProvider,
  metrics,
  type ObservableResult,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import {
  type CommandEvent,
  type CommandPhases,
  type ConnectionEvent,
  commandChannel,
  commandPhases,
  connectionChannel,
  type DeliveryEvent,
  deliveryChannel,
  type OperationEvent,
  listen,
  operationChannel,
  PHASES,
} from '../lib/telemetry';
import { LOCAL_CACHE_STATS, localCacheStatNames, localCacheTotals } from '../lib/local';

export interface OpenTelemetryOptions {
  /** Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider | undefined;
  /** Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider | undefined;
  /**
   * Also record, as histograms, the phases of each command (always on the command's span as
   * `redis_layer.queue_ms`, `native_ms`, `network_ms` and `callback_ms`) and each service call's
   * duration (always its span's). @default false
   */
  detailedMetrics?: boolean | undefined;
}

const NAME = 'redis-layer';
/** Past this many distinct attribute sets (queries, operations) new ones are made per span, not kept. */
const MAX_CACHED = 1000;
/**
 * Each event's span rides on the event itself (a symbol key only this module knows): a WeakMap of
 * short-lived events costs the garbage collector more than the spans do.
 */
const SPAN = Symbol('redis-layer span');
type Traced = { [SPAN]?: Span };
const spanOf = (event: object): Span | undefined => (event as Traced)[SPAN];
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Starts reporting; the returned function stops it (unsubscribes). */
export function instrumentOpenTelemetry(options: OpenTelemetryOptions = {}): () => void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(NAME);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(NAME);
  const histogram = (name: string, description: string) =>
    meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
  const duration = histogram('db.client.operation.duration', 'Duration of database client operations.');
  const phaseDuration = histogram(
    'redis_layer.client.phase.duration',
    'Parts of db.client.operation.duration: queue (JavaScript), native, network (and Redis), callback (event loop).',
  );
  // Metric attributes with a phase, made once per command attributes and phase.
  const phaseAttributes = new WeakMap<Attributes, Record<keyof CommandPhases, Attributes>>();
  const withPhases = (attributes: Attributes): Record<keyof CommandPhases, Attributes> => {
    let byPhase = phaseAttributes.get(attributes);
    if (byPhase === undefined) {
      const phased = (phase: keyof CommandPhases) => ({ ...attributes, 'redis_layer.phase': phase });
      byPhase = {
        queue: phased('queue'),
        native: phased('native'),
        network: phased('network'),
        callback: phased('callback'),
      };
      phaseAttributes.set(attributes, byPhase);
    }
    return byPhase;
  };
  const operationDuration = histogram('redis_layer.operation.duration', 'Duration of redis-layer service calls.');
  const connectionEvents = meter.createCounter('redis_layer.connection.events', {
    description: 'Connects, reconnects, disconnects and failed reconnect attempts.',
  });
  const detailed = options.detailedMetrics === true;
  // A command's metric attributes depend only on its name and socket target: made once for each.
  const metricAttributes = new WeakMap<object, Map<string, Attributes>>();
  const metricAttributesOf = (event: CommandEvent): Attributes => {
    let byOperation = metricAttributes.get(event.server);
    if (byOperation === undefined) {
      byOperation = new Map();
      metricAttributes.set(event.server, byOperation);
    }
    let attributes = byOperation.get(event.operation);
    if (attributes === undefined) {
      attributes = commandAttributes(event);
      delete attributes['db.query.text'];
      delete attributes['db.operation.batch.size'];
      byOperation.set(event.operation, attributes);
    }
    return attributes;
  };

  // Span attributes by socket target, query and batch size: the SDK copies them, so one object serves every span.
  const spanAttributes = new WeakMap<object, Map<string, Attributes>>();
  const spanAttributesOf = (event: CommandEvent): Attributes => {
    let byQuery = spanAttributes.get(event.server);
    if (byQuery === undefined) {
      byQuery = new Map();
      spanAttributes.set(event.server, byQuery);
    }
    const key = event.batchSize > 1 ? `${event.batchSize} ${event.query}` : event.query;
    let attributes = byQuery.get(key);
    if (attributes === undefined) {
      attributes = commandAttributes(event);
      if (byQuery.size < MAX_CACHED) byQuery.set(key, attributes);
    }
    return attributes;
  };
  // By service, then method, then key group (few of each; no key string is built per call).
  const operationAttributes = new Map<string, Map<string, Map<string | undefined, Attributes>>>();
  const operationAttributesOf = (event: OperationEvent): Attributes => {
    let byOperation = operationAttributes.get(event.service);
    if (byOperation === undefined) {
      byOperation = new Map();
      operationAttributes.set(event.service, byOperation);
    }
    let byGroup = byOperation.get(event.operation);
    if (byGroup === undefined) {
      byGroup = new Map();
      byOperation.set(event.operation, byGroup);
    }
    let attributes = byGroup.get(event.keyGroup);
    if (attributes === undefined) {
      attributes = { 'redis_layer.service': event.service, 'redis_layer.operation': event.operation };
      if (event.keyGroup !== undefined) attributes['redis_layer.key_group'] = event.keyGroup;
      if (byGroup.size < MAX_CACHED) byGroup.set(event.keyGroup, attributes);
    }
    return attributes;
  };

  const commandAttributes = (event: CommandEvent): Attributes => {
    const attributes: Attributes = {
      'db.system.name': 'redis',
      'db.operation.name': event.operation,
      'db.namespace': String(event.server.database),
      'db.query.text': event.query,
      'server.address': event.server.address,
      'server.port': event.server.port,
    };
    if (event.batchSize > 1) attributes['db.operation.batch.size'] = event.batchSize;
    return attributes;
  };

  const command = {
    start(event: CommandEvent) {
      const parentSpan = event.parent === undefined ? undefined : spanOf(event.parent);
      const parent = parentSpan === undefined ? context.active() : trace.setSpan(context.active(), parentSpan);
      (event as Traced)[SPAN] = tracer.startSpan(
        event.operation,
        { kind: SpanKind.CLIENT, attributes: spanAttributesOf(event) },
        parent,
      );
    },
    error(event: CommandEvent) {
      const span = spanOf(event);
      if (span === undefined) return;
      const { type, status } = errorOf(event.error);
      span.setAttribute('error.type', type);
      if (status !== undefined) span.setAttribute('db.response.status_code', status);
      span.setStatus({ code: SpanStatusCode.ERROR, message: status ?? type });
    },
    asyncEnd(event: CommandEvent) {
      const now = performance.now();
      const shared = metricAttributesOf(event);
      const attributes = event.error === undefined ? shared : { ...shared, 'error.type': errorOf(event.error).type };
      duration.record((now - event.calledAt) / 1000, attributes);
      const phases = commandPhases(event, now);
      if (detailed && phases !== undefined) {
        const phased = withPhases(attributes);
        for (const phase of PHASES) phaseDuration.record(phases[phase], phased[phase]);
      }
      const span = spanOf(event);
      if (span === undefined) return;
      if (phases !== undefined) {
        span.setAttributes({
          'redis_layer.queue_ms': phases.queue * 1000,
          'redis_layer.native_ms': phases.native * 1000,
          'redis_layer.network_ms': phases.network * 1000,
          'redis_layer.callback_ms': phases.callback * 1000,
        });
      }
      span.end();
    },
  };

  const operation = {
    start(event: OperationEvent) {
      (event as Traced)[SPAN] = tracer.startSpan(
        `${event.service} ${event.operation}`,
        { kind: SpanKind.INTERNAL, attributes: operationAttributesOf(event) },
        context.active(),
      );
    },
    error(event: OperationEvent) {
      spanOf(event)?.setStatus({ code: SpanStatusCode.ERROR, message: errorOf(event.error).type });
      spanOf(event)?.setAttribute('error.type', errorOf(event.error).type);
    },
    asyncEnd(event: OperationEvent) {
      if (detailed) {
        const attributes: Attributes = {
          'redis_layer.service': event.service,
          'redis_layer.operation': event.operation,
        };
        if (event.outcome !== undefined) attributes['redis_layer.outcome'] = event.outcome;
        if (event.keyGroup !== undefined) attributes['redis_layer.key_group'] = event.keyGroup;
        operationDuration.record((performance.now() - event.calledAt) / 1000, attributes);
      }
      const span = spanOf(event);
      if (span === undefined) return;
      if (event.outcome !== undefined) span.setAttribute('redis_layer.outcome', event.outcome);
      if (event.allowed !== undefined) span.setAttribute('redis_layer.rate_limit.allowed', event.allowed);
      if (event.degraded !== undefined) span.setAttribute('redis_layer.rate_limit.degraded', event.degraded);
      if (event.waitMs !== undefined) span.setAttribute('redis_layer.lock.wait_ms', event.waitMs);
      if (event.fencingToken !== undefined) span.setAttribute('redis_layer.lock.fencing_token', event.fencingToken);
      span.end();
    },
  };

  const onConnection = (message: unknown) => {
    const event = message as ConnectionEvent;
    connectionEvents.add(1, { 'redis_layer.connection.event': event.kind, 'redis_layer.socket': event.role });
    tracer
      .startSpan(`connection ${event.kind}`, {
        kind: SpanKind.INTERNAL,
        attributes: { 'redis_layer.connection.event': event.kind, 'redis_layer.socket': event.role },
      })
      .end();
  };

  const delivered = meter.createCounter('redis_layer.broker.delivered', {
    description: 'Pub/sub messages received and handed to callbacks.',
  });
  const dropped = meter.createCounter('redis_layer.broker.dropped', {
    description: 'Pub/sub messages dropped because callbacks fell behind.',
  });
  const backlog = meter.createHistogram('redis_layer.broker.backlog', {
    description: 'Pub/sub messages waiting for callbacks, seen at each received batch.',
  });
  const onDelivery = (message: unknown) => {
    const event = message as DeliveryEvent;
    const attributes = { 'redis_layer.socket': event.role };
    delivered.add(event.messages, attributes);
    if (event.dropped > 0) dropped.add(event.dropped, attributes);
    backlog.record(event.backlog, attributes);
  };

  // The local cache tiers' totals, read at each collection: counts as counters, size as gauges.
  const localCache = localCacheStatNames.map((stat) => {
    const description = `Local cache tier (every CacheService with \`local\`): ${LOCAL_CACHE_STATS[stat]}.`;
    const instrument =
      stat === 'entries' || stat === 'bytes'
        ? meter.createObservableGauge(`redis_layer.local_cache.${stat}`, {
            description,
            unit: stat === 'bytes' ? 'By' : '{entry}',
          })
        : meter.createObservableCounter(`redis_layer.local_cache.${stat}`, { description });
    const observe = (result: ObservableResult) => result.observe(localCacheTotals()[stat]);
    instrument.addCallback(observe);
    return () => instrument.removeCallback(observe);
  });

  const stopCommands = listen(commandChannel, command);
  const stopOperations = listen(operationChannel, operation);
  connectionChannel.subscribe(onConnection);
  deliveryChannel.subscribe(onDelivery);
  return () => {
    for (const stop of localCache) stop();
    stopCommands();
    stopOperations();
    connectionChannel.unsubscribe(onConnection);
    deliveryChannel.unsubscribe(onDelivery);
  };
}

/** `error.type` (redis-layer's error code, else the error's name) and the Redis error prefix (`WRONGTYPE`). */
function errorOf(error: unknown): { type: string; status: string | undefined } {
  const code = (error as { code?: unknown } | null)?.code;
  const type = typeof code === 'string' ? code : error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : '';
  // Redis errors read `"WRONGTYPE": Operation against…` (redis-rs quotes the prefix) or `WRONGTYPE Operation…`.
  const prefix = /^"?([A-Z][A-Z_]+)"?(?=[:\s]|$)/.exec(message)?.[1];
  return { type, status: prefix };
}
