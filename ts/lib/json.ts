import { describeType } from './errors';
import { describeError, log } from './logger';

/** What JSON.stringify leaves out of an object and turns into null in an array. */
type Dropped = symbol | undefined | ((...args: never[]) => unknown);

/**
 * What a value of type T becomes after a JSON round trip, which is what a cache hit returns:
 * `Date` (anything with `toJSON`) becomes its JSON form, functions, symbols and `undefined`
 * properties disappear (a property that may be undefined becomes optional), and `undefined` in
 * an array becomes `null`.
 */
export type Jsonified<T> = unknown extends T
  ? T
  : T extends string | number | boolean | null
    ? T
    : T extends bigint | Dropped
      ? never
      : T extends { toJSON(...args: never[]): infer J }
        ? Jsonified<J>
        : T extends ReadonlyArray<infer U>
          ? Array<U extends Dropped ? null : Jsonified<U>>
          : T extends object
            ? JsonObject<T>
            : never;

type JsonObject<T> = {
  [K in keyof T as K extends string | number
    ? T[K] extends Dropped
      ? never
      : undefined extends T[K]
        ? never
        : K
    : never]: Jsonified<T[K]>;
} & {
  [K in keyof T as K extends string | number
    ? T[K] extends Dropped
      ? never
      : undefined extends T[K]
        ? K
        : never
    : never]?: Jsonified<Exclude<T[K], undefined>>;
};

/** `JSON.stringify` exactly (toJSON, Dates as ISO strings), but a value JSON cannot hold is an error, not `undefined`. */
export function toJson(value: unknown, name = 'value'): string {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new TypeError(`${name} cannot be represented as JSON (${value === undefined ? 'undefined' : typeof value})`);
  }
  return text;
}

/** Parses stored JSON; a value that is not JSON throws a SyntaxError for the caller to treat as a miss. */
export function fromJson<T>(text: unknown): T | null {
  if (text === null || text === undefined) return null;
  if (typeof text !== 'string') throw new SyntaxError('stored value is not a string');
  return JSON.parse(text) as T;
}

/** Stored JSON parsed; a value that is not JSON is bad data, logged and answered as a miss (null). */
export function parseOrMiss<T>(text: unknown, key: string): T | null {
  try {
    return fromJson<T>(text);
  } catch (error) {
    log('warn', 'Cache get error: stored value is not JSON, treated as a miss', { key, ...describeError(error) });
    return null;
  }
}

/**
 * A parsed value of the wrong shape (say, a string where the seed stores an array) is bad
 * data like corrupt JSON: logged and answered as a miss.
 */
export function shapedOrMiss<T>(value: unknown, key: string, expected: 'object' | 'array'): T | null {
  if (value === null) return null;
  const ok = expected === 'array' ? Array.isArray(value) : typeof value === 'object' && !Array.isArray(value);
  if (ok) return value as T;
  log('warn', `Cache get error: stored value is not an ${expected}, treated as a miss`, {
    key,
    got: describeType(value),
  });
  return null;
}
