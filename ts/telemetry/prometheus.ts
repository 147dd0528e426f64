/**
 * `redis-layer/prometheus`: redis-layer's metrics on a prom-client registry the application owns.
 * Labels stay few: command names, services and operations, outcomes, key groups from the CacheKeys
 * templates (`user`, `post`, `feed:page`…), never a key, value or session id.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LOCAL_CACHE_STATS, localCacheStatNames, localCacheTotals } from '../lib/local';
import {
  type CommandEvent,
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

export interface PrometheusOptions {
  /** The registry to register on (the application's, or prom-client's `register`). */
  registry: Registry;
  /** Prefix of every metric name. @default 'redis_layer_' */
  prefix?: string | undefined;
  /** Histogram buckets, in seconds. */
  buckets?: number[] | undefined;
}

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Registers the metrics and starts recording; the returned function stops recording and removes them. */
export function registerPrometheusMetrics(options: PrometheusOptions): () => void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const { registry } = options;
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function') {
    throw new TypeError('options.registry must be a prom-client Registry');
  }
  const prefix = options.prefix ?? 'redis_layer_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new TypeError(
      `options.prefix must be a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${String(prefix)}`,
    );
  }
  const buckets = options.buckets ?? BUCKETS;
  const registers = [registry];
  const histogram = (name: string, help: string, labelNames: string[]) =>
    new Histogram({ name: prefix + name, help, labelNames, buckets, registers });

  const commandDuration = histogram('command_duration_seconds', 'Redis commands, call to reply.', [
    'command',
    'socket',
  ]);
  const commandPhase = histogram(
    'command_phase_seconds',
    'Redis commands by phase: queue (JavaScript, call to hand-off to native code), native (to the socket ' +
      'write), network (network and Redis, to the reply), callback (until the event loop took the reply).',
    ['command', 'socket', 'phase'],
  );
  const commandErrors = new Counter({
    name: `${prefix}command_errors_total`,
    help: 'Redis commands that failed, by error type.',
    labelNames: ['command', 'error_type'],
    registers,
  });
  const inFlight = new Gauge({
    name: `${prefix}commands_in_flight`,
    help: 'Redis commands called and not yet answered.',
    labelNames: ['socket'],
    registers,
  });
  const operationDuration = histogram('operation_duration_seconds', 'redis-layer service calls.', [
    'service',
    'operation',
  ]);
  const cacheRequests = new Counter({
    name: `${prefix}cache_requests_total`,
    help: 'Cache reads and writes by key group and outcome (hit, miss, stored, fail-soft).',
    labelNames: ['operation', 'key_group', 'outcome'],
    registers,
  });
  const rateLimitDecisions = new Counter({
    name: `${prefix}rate_limit_decisions_total`,
    help: 'Rate-limit checks by limit type and outcome (allowed, denied, degraded).',
    labelNames: ['limit', 'outcome'],
    registers,
  });
  const lockOperations = new Counter({
    name: `${prefix}lock_operations_total`,
    help: 'Lock acquires, extends and releases by outcome.',
    labelNames: ['operation', 'outcome'],
    registers,
  });
  const published = new Counter({
    name: `${prefix}broker_published_total`,
    help: 'Messages published, by whether any subscriber received them.',
    labelNames: ['outcome'],
    registers,
  });
  const connectionEvents = new Counter({
    name: `${prefix}connection_events_total`,
    help: 'Connects, reconnects, disconnects and failed reconnect attempts.',
    labelNames: ['event', 'socket'],
    registers,
  });

  const delivered = new Counter({
    name: `${prefix}broker_delivered_total`,
    help: 'Pub/sub messages received and handed to callbacks.',
    labelNames: ['socket'],
    registers,
  });
  const dropped = new Counter({
    name: `${prefix}broker_dropped_total`,
    help: 'Pub/sub messages dropped because callbacks fell behind.',
    labelNames: ['socket'],
    registers,
  });
  const backlog = new Gauge({
    name: `${prefix}broker_backlog`,
    help: 'Pub/sub messages waiting for callbacks, as of the last received batch.',
    labelNames: ['socket'],
    registers,
  });

  // The local cache tiers' totals, read at each scrape: counts as counters, size as gauges.
  const localCache = localCacheStatNames.map((stat) => {
    const counted = stat !== 'entries' && stat !== 'bytes';
    const name = `${prefix}local_cache_${stat}${counted ? '_total' : ''}`;
    const help = `Local cache tier (every CacheService with \`local\`): ${LOCAL_CACHE_STATS[stat]}.`;
    return counted
      ? new Counter({
          name,
          help,
          registers,
          collect() {
            this.reset();
            this.inc(localCacheTotals()[stat]);
          },
        })
      : new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(localCacheTotals()[stat]);
          },
        });
  });

  const command = {
    start(event: CommandEvent) {
      inFlight.inc({ socket: event.role });
    },
    error(event: CommandEvent) {
      const code = (event.error as { code?: unknown } | null)?.code;
      commandErrors.inc({ command: event.operation, error_type: typeof code === 'string' ? code : 'Error' });
    },
    asyncEnd(event: CommandEvent) {
      const now = performance.now();
      const labels = { command: event.operation, socket: event.role };
      inFlight.dec({ socket: event.role });
      commandDuration.observe(labels, (now - event.calledAt) / 1000);
      const phases = commandPhases(event, now);
      if (phases !== undefined) {
        for (const phase of PHASES) commandPhase.observe({ ...labels, phase }, phases[phase]);
      }
    },
  };

  const operation = {
    asyncEnd(event: OperationEvent) {
      operationDuration.observe(
        { service: event.service, operation: event.operation },
        (performance.now() - event.calledAt) / 1000,
      );
      const outcome = event.error === undefined ? (event.outcome ?? 'done') : 'error';
      if (event.service === 'cache') {
        cacheRequests.inc({ operation: event.operation, key_group: event.keyGroup ?? 'other', outcome });
      } else if (event.service === 'rate-limit') {
        rateLimitDecisions.inc({ limit: (event.keyGroup ?? 'other').replace(/^ratelimit:/, ''), outcome });
      } else if (event.service === 'lock') {
        lockOperations.inc({ operation: event.operation, outcome });
      } else if (event.service === 'broker' && event.operation === 'publish') {
        published.inc({ outcome });
      }
    },
  };

  const onConnection = (message: unknown) => {
    const event = message as ConnectionEvent;
    connectionEvents.inc({ event: event.kind, socket: event.role });
  };

  const onDelivery = (message: unknown) => {
    const event = message as DeliveryEvent;
    delivered.inc({ socket: event.role }, event.messages);
    if (event.dropped > 0) dropped.inc({ socket: event.role }, event.dropped);
    backlog.set({ socket: event.role }, event.backlog);
  };

  const stopCommands = listen(commandChannel, command);
  const stopOperations = listen(operationChannel, operation);
  connectionChannel.subscribe(onConnection);
  deliveryChannel.subscribe(onDelivery);
  return () => {
    stopCommands();
    stopOperations();
    connectionChannel.unsubscribe(onConnection);
    deliveryChannel.unsubscribe(onDelivery);
    for (const metric of [
      commandDuration,
      commandPhase,
      commandErrors,
      inFlight,
      operationDuration,
      cacheRequests,
      rateLimitDecisions,
      lockOperations,
      published,
      connectionEvents,
      delivered,
      dropped,
      backlog,
      ...localCache,
    ]) {
      registry.removeSingleMetric((metric as unknown as { name: string }).name);
    }
  };
}
