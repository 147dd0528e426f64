/** Helpers of the local cache tier's tests: the check of every cross-process run, and waits on the tier. */
import type { LocalCacheStats } from '../..';
import * as history from '../fixtures/local-cache-history';
import type { HistoryRun, Reset, Verdict } from '../fixtures/local-cache-history';
import { waitUntil } from './redis';

/** The generous bound on the invalidation delay: no read may lag an acknowledged write by more. */
export const MAX_DELAY_MS = 200;

/**
 * Judges a run and keeps its summary line in `summaries`; fails on any violation, on fewer
 * acknowledged writes than `minWrites`, on a lag past MAX_DELAY_MS, and when a reader did not
 * use its tier.
 */
export function checkRun(
  name: string,
  run: HistoryRun,
  options: { summaries: string[]; minWrites: number; resets?: Reset[] },
): Verdict {
  const verdict = history.judge(run, options.resets ?? []);
  const line = history.describeRun(name, run, verdict);
  options.summaries.push(line);
  console.log(line);
  expect(verdict.violations.slice(0, 10)).toEqual([]);
  expect(run.ops.filter((op) => op[4] !== null).length).toBeGreaterThan(options.minWrites);
  expect(verdict.judged).toBeGreaterThan(5_000);
  // Not vacuous: every reader answered reads from memory.
  for (const reader of run.readers) expect(reader.stats.hits).toBeGreaterThan(100);
  expect(history.percentile(verdict.lags, 100)).toBeLessThan(MAX_DELAY_MS);
  return verdict;
}

/** Ids of the clients with key tracking on (`t` in their flags), from the text of CLIENT LIST. */
export function trackingClientIds(clientList: string): string[] {
  return clientList
    .split('\n')
    .filter((line) => /\bflags=\S*t/.test(line))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] as string);
}

/** Calls `read` until a call is answered from the local tier of `of` (tracking starts with its first use); returns that answer. */
export async function served<T>(
  read: () => Promise<T>,
  of: { localStats(): LocalCacheStats | null },
  what: string,
  timeoutMs = 5_000,
): Promise<T | undefined> {
  const hits = () => (of.localStats() as LocalCacheStats).hits;
  let value: T | undefined;
  await waitUntil(
    async () => {
      const before = hits();
      value = await read();
      return hits() > before;
    },
    `${what} answered from the local tier`,
    timeoutMs,
  );
  return value;
}
