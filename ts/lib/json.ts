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
export function toJson(
  value: unknown,
  name = 'value',
  replacer?: (this: Record<string, unknown>, key: string, converted: unknown) => unknown,
): string {
  const text = JSON.stringify(value, replacer);
  if (text === undefined) {
    throw new TypeError(`${name} cannot be represented as JSON (${value === undefined ? 'undefined' : typeof value})`);
  }
  return text;
}

/**
 * How a cache service turns values into the text stored in Redis and back. `roundTrip` says what
 * a read returns: `'json'` the value's JSON round trip (typed `Jsonified<T>`), `'exact'` the value
 * as written (for the types the serializer handles).
 */
export interface Serializer {
  readonly roundTrip: 'json' | 'exact';
  /** The stored text of `value`; throws for a value it cannot represent. */
  stringify(value: unknown): string;
  /** The value stored as `text`; throws for text it cannot read (a logged miss). */
  parse(text: string): unknown;
}

/** The seed's format: `JSON.stringify` / `JSON.parse` exactly. The default of every service. */
export const jsonSerializer = {
  roundTrip: 'json',
  stringify: (value: unknown): string => toJson(value),
  parse: (text: string): unknown => JSON.parse(text),
} as const satisfies Serializer;

export type JsonSerializer = typeof jsonSerializer;

const DATE_TAG = '$date';

/** JSON.stringify replacer: the holder still has the Date that `toJSON` already turned into a string. */
function tagDates(this: Record<string, unknown>, key: string, converted: unknown): unknown {
  const raw = this[key];
  return raw instanceof Date ? { [DATE_TAG]: raw.toISOString() } : converted;
}

/**
 * JSON in which a `Date` is written as `{"$date":"<ISO string>"}` and read back as a `Date`.
 * Not the seed's format: a backend still on the seed reads those fields as objects. An object
 * whose only key is `$date` holding a string is read as a Date.
 */
export const dateSerializer = {
  roundTrip: 'exact',
  stringify: (value: unknown): string => toJson(value, 'value', tagDates),
  parse(text: string): unknown {
    return JSON.parse(text, (_key, value: unknown) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
      const keys = Object.keys(value);
      const tagged = (value as Record<string, unknown>)[DATE_TAG];
      return keys.length === 1 && typeof tagged === 'string' ? new Date(tagged) : value;
    });
  },
} as const satisfies Serializer;

/** The serializer of a service's options, checked; the JSON one when none is given. */
export function serializerOf(options: { serializer?: Serializer | undefined } | undefined): Serializer {
  const serializer = options?.serializer ?? jsonSerializer;
  if (
    serializer === null ||
    typeof serializer !== 'object' ||
    typeof serializer.stringify !== 'function' ||
    typeof serializer.parse !== 'function' ||
    (serializer.roundTrip !== 'json' && serializer.roundTrip !== 'exact')
  ) {
    throw new TypeError("options.serializer must have stringify and parse functions and roundTrip 'json' or 'exact'");
  }
  return serializer;
}

/** What a read of a value written as T returns with serializer S. */
export type Loaded<T, S extends Serializer> = S['roundTrip'] extends 'exact' ? T : Jsonified<T>;

/** `serializer.stringify(value)`, its failure a TypeError naming `name`; the JSON serializer's own messages are kept. */
export function encode(serializer: Serializer, value: unknown, name = 'value'): string {
  if (serializer === jsonSerializer) return toJson(value, name);
  let text: unknown;
  try {
    text = serializer.stringify(value);
  } catch (error) {
    throw new TypeError(`${name} cannot be serialized: ${(error as Error)?.message ?? String(error)}`);
  }
  if (typeof text !== 'string')
    throw new TypeError(`serializer.stringify must return a string, got ${describeType(text)}`);
  return text;
}

/** Stored text decoded; text the serializer cannot read is bad data, logged and answered as a miss (null). */
export function decodeOrMiss<T>(serializer: Serializer, text: unknown, key: string): T | null {
  try {
    if (text === null || text === undefined) return null;
    if (typeof text !== 'string') throw new SyntaxError('stored value is not a string');
    return serializer.parse(text) as T;
  } catch (error) {
    const what = serializer === jsonSerializer ? 'is not JSON' : 'cannot be read';
    log('warn', `Cache get error: stored value ${what}, treated as a miss`, { key, ...describeError(error) });
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
