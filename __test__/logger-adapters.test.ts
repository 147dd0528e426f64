/**
 * setLogger with the loggers applications use: real pino and winston loggers writing JSON to memory,
 * fed by real redis-layer log lines (a connection's connect, a rate-limit denial). pino and bunyan are
 * called object-first (`logger.info(meta, message)`), console and winston message-first.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import winston from 'winston';
import { type Logger, RateLimiter, RedisConnection, defaultLogger, setLogger } from '..';
import { log, redactedTag } from '../dist/lib/logger';
import { type TestServer, testRedis, uniquePrefix } from './helpers/redis';

/** A writable that keeps what it is given; each line is one JSON log record. */
class MemoryStream extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }

  records(): Array<Record<string, unknown>> {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

/** Waits for a record matching `wanted` (winston hands records to its transports asynchronously). */
async function recordOf(
  stream: MemoryStream,
  wanted: (record: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const found = stream.records().find(wanted);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching log record in:\n${stream.text}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function pinoLogger() {
  const stream = new MemoryStream();
  return { stream, logger: pino({ level: 'debug' }, stream) };
}

function winstonLogger() {
  const stream = new MemoryStream();
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { stream, logger };
}

/** A console-shaped logger that records the arguments of each call. */
function argumentRecorder(extra: Record<string, unknown> = {}) {
  const calls: Array<{ level: string; args: unknown[] }> = [];
  const at =
    (level: string) =>
    (...args: unknown[]) => {
      calls.push({ level, args });
    };
  const logger = { ...extra, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { calls, logger: logger as unknown as Logger };
}

let server: TestServer;
let connection: RedisConnection;

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
});

afterEach(() => {
  setLogger(defaultLogger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await connection.close();
  await server.stop();
});

/** Two checks against a limit of one: the second is denied and logged at debug with its metadata. */
async function deny(limiter: RateLimiter): Promise<{ identifier: string; type: string }> {
  const identifier = `${uniquePrefix('logger-adapters')}203.0.113.7`;
  const type = 'login';
  const config = { windowMs: 60_000, maxRequests: 1 };
  expect((await limiter.checkLimit(identifier, type, config)).allowed).toBe(true);
  expect((await limiter.checkLimit(identifier, type, config)).allowed).toBe(false);
  return { identifier, type };
}

describe('pino (detected: object-first)', () => {
  it('gets the connect lines with their text in msg', async () => {
    const { stream, logger } = pinoLogger();
    setLogger(logger);
    await connection.connect();
    const connecting = await recordOf(stream, (r) => String(r.msg).startsWith('Redis connecting to '));
    expect(connecting).toMatchObject({ level: 30 });
    expect(String(connecting.msg)).toContain(server.url.replace(/^redis:\/\//, ''));
    expect(await recordOf(stream, (r) => r.msg === 'All Redis connections established')).toMatchObject({ level: 30 });
  });

  it('gets a rate-limit denial with identifierTag, type and currentCount as fields of the JSON line', async () => {
    const { stream, logger } = pinoLogger();
    setLogger(logger);
    const limiter = new RateLimiter(connection, { denialLogIntervalMs: 20 });
    const { identifier, type } = await deny(limiter);
    const denial = await recordOf(stream, (r) => r.msg === 'Rate limit exceeded');
    expect(denial).toMatchObject({ level: 20, identifierTag: redactedTag(identifier), type, currentCount: 1 });
    expect(stream.text).not.toContain(identifier);
    // The warn summary a moment later carries its nested counts as a field too.
    const summary = await recordOf(stream, (r) => r.msg === 'Rate limits exceeded');
    expect(summary).toMatchObject({ level: 40, denied: { [type]: 1 }, intervalMs: 20 });
  });

  it('detects a pino child logger too', async () => {
    const { stream, logger } = pinoLogger();
    setLogger(logger.child({ component: 'redis' }));
    log('warn', 'Lock expired before release', { resource: 'r1' });
    expect(await recordOf(stream, (r) => r.msg === 'Lock expired before release')).toMatchObject({
      level: 40,
      component: 'redis',
      resource: 'r1',
    });
  });

  it('gets a line without metadata as a plain msg', async () => {
    const { stream, logger } = pinoLogger();
    setLogger(logger);
    log('info', 'Redis connections closed');
    const record = await recordOf(stream, (r) => r.msg === 'Redis connections closed');
    expect(Object.keys(record).sort()).toEqual(['hostname', 'level', 'msg', 'pid', 'time']);
  });
});

describe('winston (detected: message-first)', () => {
  it('gets a rate-limit denial with its text in message and the metadata as fields of the JSON line', async () => {
    const { stream, logger } = winstonLogger();
    setLogger(logger);
    const { identifier, type } = await deny(new RateLimiter(connection));
    const denial = await recordOf(stream, (r) => r.message === 'Rate limit exceeded');
    expect(denial).toMatchObject({ level: 'debug', identifierTag: redactedTag(identifier), type, currentCount: 1 });
  });

  it('gets a line without metadata as its message alone', async () => {
    const { stream, logger } = winstonLogger();
    setLogger(logger);
    log('info', 'All Redis connections established');
    const record = await recordOf(stream, (r) => r.message === 'All Redis connections established');
    expect(record).toEqual({ level: 'info', message: 'All Redis connections established' });
  });
});

describe('options.style', () => {
  it("'message-first' forced on pino gives the old behaviour: the metadata are lost", async () => {
    const { stream, logger } = pinoLogger();
    setLogger(logger, { style: 'message-first' });
    log('warn', 'Lock expired before release', { resource: 'r2' });
    const record = await recordOf(stream, (r) => r.msg === 'Lock expired before release');
    expect(record).not.toHaveProperty('resource');
  });

  it("'object-first' makes a wrapper around pino, which detection cannot see, keep the metadata", async () => {
    const { stream, logger } = pinoLogger();
    const wrapper = {
      debug: (meta: object, message: string) => logger.debug(meta, message),
      info: (meta: object, message: string) => logger.info(meta, message),
      warn: (meta: object, message: string) => logger.warn(meta, message),
      error: (meta: object, message: string) => logger.error(meta, message),
    } as unknown as Logger;
    setLogger(wrapper, { style: 'object-first' });
    log('error', 'Lock release error', { resource: 'r3', code: 'ERR_TIMEOUT' });
    expect(await recordOf(stream, (r) => r.msg === 'Lock release error')).toMatchObject({
      level: 50,
      resource: 'r3',
      code: 'ERR_TIMEOUT',
    });
  });

  it("'object-first' passes {} when a line has no metadata", () => {
    const { calls, logger } = argumentRecorder();
    setLogger(logger, { style: 'object-first' });
    log('info', 'Redis connections closed');
    expect(calls).toStrictEqual([{ level: 'info', args: [{}, 'Redis connections closed'] }]);
  });

  it("'message-first' forced on a bunyan-shaped logger calls it message first", () => {
    const { calls, logger } = argumentRecorder({ fields: {}, streams: [], child() {} });
    setLogger(logger, { style: 'message-first' });
    log('warn', 'w', { a: 1 });
    expect(calls).toStrictEqual([{ level: 'warn', args: ['w', { a: 1 }] }]);
  });

  it.each([
    ['an unknown name', { style: 'pino' }],
    ['a wrong case', { style: 'Object-First' }],
    ['a number', { style: 1 }],
    ['null', { style: null }],
  ])('rejects %s with a TypeError naming options.style and keeps the logger it had', (_name, options) => {
    const { calls, logger } = argumentRecorder();
    setLogger(logger);
    expect(() => setLogger(pinoLogger().logger, options as never)).toThrow(TypeError);
    expect(() => setLogger(pinoLogger().logger, options as never)).toThrow(/options\.style/);
    log('info', 'still here');
    expect(calls).toStrictEqual([{ level: 'info', args: ['still here'] }]);
  });

  it('rejects options that are not an object, and a logger without a level method', () => {
    expect(() => setLogger(pinoLogger().logger, 'object-first' as never)).toThrow(TypeError);
    const { info: _dropped, ...noInfo } = argumentRecorder().logger;
    expect(() => setLogger(noInfo as Logger)).toThrow(new TypeError('setLogger: logger.info must be a function'));
  });
});

describe('detection', () => {
  it('calls console-shaped loggers message first, without a trailing undefined', () => {
    const { calls, logger } = argumentRecorder();
    setLogger(logger);
    log('info', 'Session created', { userId: 'u1' });
    log('info', 'Redis connections closed');
    expect(calls).toStrictEqual([
      { level: 'info', args: ['Session created', { userId: 'u1' }] },
      { level: 'info', args: ['Redis connections closed'] },
    ]);
  });

  it('calls a bunyan-shaped logger (fields, streams, child) object first', () => {
    const { calls, logger } = argumentRecorder({ fields: { name: 'app' }, streams: [], child() {} });
    setLogger(logger);
    log('warn', 'w', { a: 1 });
    expect(calls).toStrictEqual([{ level: 'warn', args: [{ a: 1 }, 'w'] }]);
  });

  it('takes levels and child alone (winston has both) for message-first', () => {
    const { calls, logger } = argumentRecorder({ levels: { error: 0, info: 2 }, child() {}, version: '1.0.0' });
    setLogger(logger);
    log('error', 'e', { b: 2 });
    expect(calls).toStrictEqual([{ level: 'error', args: ['e', { b: 2 }] }]);
  });

  it('never throws on a logger whose other properties throw when read, and calls it message first', () => {
    const { calls, logger } = argumentRecorder();
    const levels = new Set(['debug', 'info', 'warn', 'error']);
    const hostile = new Proxy(logger, {
      get(target, property, receiver) {
        if (typeof property === 'string' && levels.has(property)) return Reflect.get(target, property, receiver);
        throw new Error(`read of ${String(property)}`);
      },
      has() {
        throw new Error('has');
      },
    });
    expect(() => setLogger(hostile)).not.toThrow();
    log('debug', 'd', { c: 3 });
    expect(calls).toStrictEqual([{ level: 'debug', args: ['d', { c: 3 }] }]);
  });

  it('keeps a Redis call working when an object-first logger throws', async () => {
    const throwing = { child() {}, fields: {}, streams: [] } as Record<string, unknown>;
    for (const level of ['debug', 'info', 'warn', 'error']) {
      throwing[level] = () => {
        throw new Error('logger down');
      };
    }
    setLogger(throwing as unknown as Logger);
    const limiter = new RateLimiter(connection);
    await expect(deny(limiter)).resolves.toMatchObject({ type: 'login' });
  });
});

describe('setLogger(defaultLogger)', () => {
  it('restores the stderr logger, message first: pino gets nothing more', async () => {
    const { stream, logger } = pinoLogger();
    setLogger(logger);
    setLogger(defaultLogger);
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'warn';
    try {
      log('warn', 'Lock expired before release', { resource: 'r4' });
    } finally {
      spy.mockRestore();
      if (level === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = level;
    }
    expect(written).toEqual(['[redis-layer] WARN Lock expired before release {"resource":"r4"}\n']);
    expect(stream.text).toBe('');
  });
});
