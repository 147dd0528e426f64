/**
 * The seed's broker message on the wire: `JSON.stringify({ ...message, timestamp: new Date(), messageId })`,
 * shared by MessageBroker (pub/sub) and DurableBroker (streams).
 */
import { randomBytes } from 'node:crypto';
import { toJson } from './json';

// 64 random bits per process keep ids from different processes apart; the
// millisecond prefix (never going backwards here) keeps them in time order.
const ID_PREFIX = randomBytes(8).toString('hex');
let lastMillis = 0;
let sequence = 0;

/** The seed's message id: `<ms>-<random per process>-<sequence in base 36>`. */
export function nextMessageId(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    sequence = 0;
  } else {
    sequence += 1;
  }
  return `${lastMillis}-${ID_PREFIX}-${sequence.toString(36).padStart(4, '0')}`;
}

/**
 * JSON.stringify({ ...message, timestamp: new Date(), messageId }) without the copy:
 * for a plain object the two members are appended to its own text (ISO dates and
 * message ids need no escaping). Anything else takes the spread.
 */
export function messageText(message: object, messageId: string): string {
  const plain =
    !Array.isArray(message) &&
    typeof (message as { toJSON?: unknown }).toJSON !== 'function' &&
    !Object.hasOwn(message, 'timestamp') &&
    !Object.hasOwn(message, 'messageId');
  if (plain) {
    const body = JSON.stringify(message);
    const stamp = `"timestamp":"${isoNow()}","messageId":"${messageId}"}`;
    if (body === '{}') return `{${stamp}`;
    if (body.length > 2 && body.endsWith('}')) return `${body.slice(0, -1)},${stamp}`;
  }
  return toJson({ ...message, timestamp: new Date(), messageId }, 'message');
}

let isoMillis = -1;
let isoText = '';
/** `new Date().toISOString()`, formatted once per millisecond however many messages share it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMillis) {
    isoMillis = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

let parsedText = '';
let parsedMillis = Number.NaN;
/** A message's timestamp as a Date; consecutive messages of one millisecond share the parse of its text. */
function toDate(value: unknown): Date {
  if (typeof value === 'string') {
    if (value !== parsedText) {
      parsedText = value;
      parsedMillis = Date.parse(value);
    }
    return new Date(parsedMillis);
  }
  return typeof value === 'number' ? new Date(value) : new Date(Number.NaN);
}

/**
 * A message's text as its fields, `timestamp` revived as a Date in place (the parsed object is the
 * caller's alone; same key order as a copy). Throws a SyntaxError for text that is not a JSON object.
 */
export function parseEnvelope(text: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SyntaxError('message is not a JSON object');
  }
  const fields = parsed as Record<string, unknown>;
  fields.timestamp = toDate(fields.timestamp);
  return fields;
}
