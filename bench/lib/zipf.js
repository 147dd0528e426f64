'use strict';
// The hot-key workload's operations: Zipf-distributed key ranks and a read/write mix drawn once from a
// fixed seed, so every client replays the same sequence of operations.

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The cumulative distribution of Zipf(s) over ranks 0..n-1 (rank 0 the hottest). */
function zipfCdf(n, s) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) cdf[r] = sum += 1 / (r + 1) ** s;
  for (let r = 0; r < n; r++) cdf[r] /= sum;
  return cdf;
}

/** The smallest rank whose cumulative share is above u. */
function sample(cdf, u) {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const WRITE = 0x8000;

/**
 * `count` operations (a power of two) as a Uint16Array: the key index in the low 15 bits, WRITE set for
 * a write. Keys are Zipf(s) over `keys` (at most 32 768); a share `writes` of operations are writes.
 */
function zipfOps({ keys, s, writes, count, seed }) {
  if (keys > WRITE) throw new RangeError('zipfOps: at most 32768 keys');
  const cdf = zipfCdf(keys, s);
  const random = prng(seed);
  const ops = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const key = sample(cdf, random());
    ops[i] = random() < writes ? key | WRITE : key;
  }
  return ops;
}

module.exports = { zipfOps, WRITE };
