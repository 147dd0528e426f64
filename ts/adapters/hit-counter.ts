/**
 * The counter under the rate-limit middleware stores (express-rate-limit, @fastify/rate-limit): one
 * fixed-window counter per client at `<prefix><key>`, changed only by scripts, so each call is atomic,
 * survives `SCRIPT FLUSH` and a restarted server, and touches one key (cluster-safe).
 */
import type { RedisConnection } from '../lib/connection';
import { requireString, unexpectedReply } from '../lib/errors';
import { escapeGlob } from '../lib/keys';
import { registerScript } from '../lib/native';
import { DROP_HIT, READ_HITS, RECORD_HIT } from '../lib/scripts/rateLimiter';

const scripts = { record: registerScript(RECORD_HIT), read: registerScript(READ_HITS), drop: registerScript(DROP_HIT) };

/** What happens to the window of a client past `max`: it stands, each hit restarts it, or each hit doubles it. */
export type PastMax = '' | 'continue' | 'backoff';

/** A client's hits in its window and the ms until the window ends (undefined when it has no hits). */
export interface Hits {
  hits: number;
  msLeft: number | undefined;
}

export class HitCounter {
  constructor(
    private readonly connection: RedisConnection,
    readonly prefix: string,
  ) {}

  /** Counts one hit of `key` in a window of `windowMs`. */
  async record(key: string, windowMs: number, max = Number.MAX_SAFE_INTEGER, pastMax: PastMax = ''): Promise<Hits> {
    const reply = await this.connection
      .dispatcher()
      .script(scripts.record, [this.key(key)], [String(windowMs), String(max), pastMax]);
    return hits(reply, 'record hit');
  }

  /** The hits of `key` without counting one. */
  async read(key: string): Promise<Hits> {
    return hits(await this.connection.dispatcher().script(scripts.read, [this.key(key)], []), 'read hits');
  }

  /** Takes back one hit of `key`: never below zero, never creating a counter. */
  async drop(key: string): Promise<void> {
    await this.connection.dispatcher().script(scripts.drop, [this.key(key)], []);
  }

  async reset(key: string): Promise<void> {
    await this.connection.dispatcher().command(['DEL', this.key(key)]);
  }

  /** Forgets every client under the prefix (SCAN + UNLINK on every master, the prefix glob-escaped). */
  async resetAll(): Promise<void> {
    await this.connection.dispatcher().scanDelete(`${escapeGlob(this.prefix)}*`, 1000);
  }

  private key(key: string): string {
    return this.prefix + requireString(key, 'key');
  }
}

function hits(reply: unknown, what: string): Hits {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number') throw unexpectedReply(what, reply);
  // A counter without an expiry (PTTL -1, only if someone else wrote it) has no window end to report.
  return { hits: reply[0], msLeft: typeof reply[1] === 'number' && reply[1] >= 0 ? reply[1] : undefined };
}
