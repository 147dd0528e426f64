'use strict';
// Fixed-size latency histogram (log buckets, ~1% resolution) so that recording millions of
// samples costs no memory growth and does not move the RSS being measured.
const BUCKETS = 2400;
const SCALE = 100;

class Histogram {
  constructor() {
    this.counts = new Uint32Array(BUCKETS);
    this.total = 0;
  }

  recordMs(ms) {
    const index = Math.min(BUCKETS - 1, Math.floor(Math.log1p(ms * 1000) * SCALE));
    this.counts[index]++;
    this.total++;
  }

  /** The q-quantile (0..1) in milliseconds, or null without samples. */
  quantileMs(q) {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.expm1((i + 0.5) / SCALE) / 1000;
    }
    return null;
  }
}

module.exports = { Histogram };
