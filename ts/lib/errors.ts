/** Every error redis-layer raises for Redis trouble carries a stable `code`. */
export class RedisLayerError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
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
  const code = typeof source?.code === 'string' ? source.code : 'ERR_INTERNAL';
  return new RedisLayerError(code, message);
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
