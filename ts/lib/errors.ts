/** Every code a `RedisLayerError` can carry; docs/api.md says what each means. */
export const ERROR_CODES = [
  'ERR_INVALID_URL',
  'ERR_CONNECTION_REFUSED',
  'ERR_AUTH_FAILED',
  'ERR_CONNECT_TIMEOUT',
  'ERR_NOT_CONNECTED',
  'ERR_TIMEOUT',
  'ERR_CONNECTION_LOST',
  'ERR_CLOSED',
  'ERR_REDIS',
  'ERR_PROTOCOL',
  'ERR_INVALID_ARG',
  'ERR_REPLY_TOO_LARGE',
  'ERR_UNSAFE_COMMAND',
  'ERR_UNEXPECTED_REPLY',
  'ERR_NOT_REPLICATED',
  'ERR_LOCK_BUSY',
  'ERR_LOCK_LOST',
  'ERR_INTERNAL',
  'ERR_NATIVE_BINARY_NOT_FOUND',
] as const;

export type RedisLayerErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** A code from the native side as one of ERROR_CODES; anything else is a bug, reported as ERR_INTERNAL. */
export function knownCode(code: unknown): RedisLayerErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code) ? (code as RedisLayerErrorCode) : 'ERR_INTERNAL';
}

/** Every error redis-layer raises for Redis trouble carries a stable `code`. */
export class RedisLayerError extends Error {
  readonly code: RedisLayerErrorCode;

  constructor(code: RedisLayerErrorCode, message: string) {
    super(message);
    this.name = 'RedisLayerError';
    this.code = code;
  }
}

/** Re-creates errors from the native side in this realm, so `instanceof Error` holds under Jest too. */
export function fromNative(error: unknown): Error {
  if (error instanceof Error) return error;
  const source = error as { message?: unknown; code?: unknown } | null;
  const message = typeof source?.message === 'string' ? source.message : String(error);
  return new RedisLayerError(knownCode(source?.code), message);
}

export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${describeType(value)}`);
  }
  return value;
}

export function requireStringArray(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${name} must be an array of strings, got ${describeType(value)}`);
  }
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') {
      throw new TypeError(`${name}[${i}] must be a string, got ${describeType(value[i])}`);
    }
  }
  return value as string[];
}

/** The id of an entity the backend hands in (a user, a post); a bad one is a TypeError naming `name`. */
export function requireEntityId(entity: unknown, name: string): string {
  if (entity === null || typeof entity !== 'object') {
    throw new TypeError(`${name} must be an object with a string id, got ${describeType(entity)}`);
  }
  const id = (entity as { id?: unknown }).id;
  if (typeof id !== 'string') throw new TypeError(`${name}.id must be a string, got ${describeType(id)}`);
  return id;
}

/** A TTL in whole seconds: undefined/null/0 mean none (as the seed's `if (ttlSeconds)`), fractions round up. */
export function optionalTtl(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === 0) return undefined;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number of seconds, got ${describeType(value)}`);
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`${name} must be a positive finite number of seconds, got ${value}`);
  return Math.ceil(value);
}

export function requireTtl(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number of seconds, got ${describeType(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number of seconds, got ${value}`);
  return Math.ceil(value);
}

/** An option that must be a positive finite number of `unit`, or `fallback` when it is left out; a RangeError naming it otherwise. */
export function positiveOption(value: unknown, name: string, unit: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number of ${unit}, got ${String(value)}`);
  }
  return value;
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A rejected promise for bad input, so async-shaped methods never throw synchronously. */
export function rejectWith<T>(build: () => T): Promise<T> {
  try {
    return Promise.resolve(build());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A reply of a shape the caller cannot use (another client's MULTI left the socket
 * queuing, a proxy in the way): an error, never a guessed value. The message names the
 * shape only, never the content, which may hold a credential.
 */
export function unexpectedReply(what: string, reply: unknown): RedisLayerError {
  const shape = Array.isArray(reply) ? `an array of ${reply.length}` : describeType(reply);
  return new RedisLayerError('ERR_UNEXPECTED_REPLY', `${what}: unexpected reply from Redis (${shape})`);
}
