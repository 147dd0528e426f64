'use strict';
// Markdown for bench/RESULTS.md: the machine, the server ceiling, one table per workload and
// the issue's targets checked against the medians.
const { CLIENTS } = require('../clients');

const fmtOps = (x) => (x == null ? '—' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const fmtMs = (x) => (x == null ? '—' : x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1));
const fmtRatio = (x) => (x == null ? '—' : `${x.toFixed(2)}×`);
const fmtPct = (x) => (x == null ? '—' : `${Math.round(x * 100)}%`);
const fmtMb = (kb) => (kb == null ? '—' : (kb / 1024).toFixed(0));
const fmtCpu = (x) => (x == null ? '—' : x >= 100 ? Math.round(x).toString() : x.toFixed(1));
const fmtServerCpu = (x) => (x == null ? '—' : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function fastestPeer(rows, names) {
  let best = null;
  for (const name of names) {
    const row = rows[name];
    if (CLIENTS[name].peer && row && row.opsPerSec != null && (!best || row.opsPerSec > best.row.opsPerSec)) best = { name, row };
  }
  return best;
}

/** A local tier's cell: its hit ratio over the timed run, and the last round's other counters. */
function tierCell(row) {
  if (row.hitRatio == null) return '';
  const { hits, misses, ...rest } = row.tier || {};
  const extra = Object.entries(rest)
    .filter(([, value]) => value > 0)
    .map(([name, value]) => (name === 'bytes' ? `${(value / 2 ** 20).toFixed(1)} MB` : `${name} ${fmtOps(value)}`));
  return `${(row.hitRatio * 100).toFixed(1)}%${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

function workloadTable(workload, rows, names) {
  const best = fastestPeer(rows, names);
  const ceiling = rows['null client'] && rows['null client'].opsPerSec;
  // A 'local hits' column where a row has a local tier.
  const tiers = names.some((name) => rows[name] && rows[name].hitRatio != null);
  const lines = [
    `### ${workload.title}`,
    '',
    workload.detail + '.',
    '',
    `| client | ops/s | vs fastest peer | share of null ceiling | p50 ms | p99 ms | CPU µs/op | Redis CPU µs/op | peak RSS MB |${tiers ? ' local hits |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${tiers ? ' ---: |' : ''}`,
  ];
  const blank = tiers ? ' | | | | | | | | |' : ' | | | | | | | |';
  for (const name of names) {
    const row = rows[name];
    if (!row) continue;
    if (row.na) {
      lines.push(`| ${name} | n/a: not available${blank}`);
      continue;
    }
    if (row.failed) {
      lines.push(`| ${name} | failed: ${row.failed.replace(/\|/g, '/').slice(0, 120)}${blank}`);
      continue;
    }
    const isCeiling = CLIENTS[name].ceiling;
    const ratio = best && !isCeiling ? row.opsPerSec / best.row.opsPerSec : null;
    const share = ceiling && !isCeiling ? row.opsPerSec / ceiling : null;
    const label = best && best.name === name ? `${name} (fastest peer)` : name;
    const errs = row.errors ? ` (${row.errors} errors)` : '';
    const deliveries = row.deliveredPerSec == null ? '' : ` (${fmtOps(row.deliveredPerSec)} delivered/s)`;
    lines.push(
      `| ${label} | ${fmtOps(row.opsPerSec)}${deliveries}${errs} | ${fmtRatio(ratio)} | ${fmtPct(share)} | ${fmtMs(row.p50)} | ${fmtMs(row.p99)} | ${fmtCpu(row.cpuPerOp)} | ${fmtServerCpu(row.serverCpuPerOp)} | ${fmtMb(row.maxRssKb)} |${tiers ? ` ${tierCell(row)} |` : ''}`,
    );
  }
  return lines.join('\n');
}

/** Whether the soak's RSS stayed within its growth limit after warm-up. */
const levelsOff = (soak) => soak.growth <= soak.growthLimit;

function targets(workloads, summary, names, serverCeiling, soak) {
  const out = [];
  const layer = (id) => summary[id] && summary[id]['redis-layer'];
  const verdict = (ok) => (ok == null ? 'not measured' : ok ? 'met' : '**missed**');
  const has = (id) => workloads.some((w) => w.id === id);
  const ratioTarget = (id, min, share) => {
    if (!has(id)) return;
    const row = layer(id);
    const best = fastestPeer(summary[id], names);
    const ceiling = summary[id]['null client'] && summary[id]['null client'].opsPerSec;
    if (!row || row.opsPerSec == null || !best) {
      out.push([id, `≥ ${min}× fastest peer${share ? ', > 50% of null ceiling' : ''}`, row && row.na ? 'n/a: not available' : '—', 'not measured']);
      return;
    }
    const ratio = row.opsPerSec / best.row.opsPerSec;
    const s = ceiling ? row.opsPerSec / ceiling : null;
    const ok = ratio >= min && (!share || (s != null && s > 0.5));
    out.push([id, `≥ ${min}× fastest peer${share ? ', > 50% of null ceiling' : ''}`, `${fmtRatio(ratio)} ${best.name}${share ? `, ${fmtPct(s)} of ceiling` : ''}`, verdict(ok)]);
  };
  if (has('get')) {
    const row = layer('get');
    const peers = names.filter((n) => CLIENTS[n].peer && summary.get[n] && summary.get[n].p50 != null);
    const bestP50 = Math.min(...peers.map((n) => summary.get[n].p50));
    const bestP99 = Math.min(...peers.map((n) => summary.get[n].p99));
    const rb = serverCeiling['GET -c 1'];
    if (row && row.p50 != null && peers.length) {
      out.push(['get', 'p50 ≤ fastest peer', `${fmtMs(row.p50)} vs ${fmtMs(bestP50)} ms`, verdict(row.p50 <= bestP50)]);
      out.push(['get', 'p99 ≤ fastest peer', `${fmtMs(row.p99)} vs ${fmtMs(bestP99)} ms`, verdict(row.p99 <= bestP99)]);
      if (rb && rb.opsPerSec) {
        const share = row.opsPerSec / rb.opsPerSec;
        out.push(['get', 'within 25% of redis-benchmark -c 1', `${fmtPct(share)} of ${fmtOps(rb.opsPerSec)} ops/s`, verdict(share >= 0.75)]);
      }
    }
  }
  ratioTarget('setget', 1.5, true);
  ratioTarget('mget', 1.5, true);
  ratioTarget('checkLimit', 2, false);
  ratioTarget('pubsub', 2, false);
  ratioTarget('session', 2, false);
  // Issue 19: durable delivery (messages handled and acknowledged/s) within 2× of plain pub/sub's fire-hose delivery.
  if (has('durable') && has('firehose')) {
    const durable = layer('durable');
    const plain = layer('firehose');
    if (durable && plain && durable.deliveredPerSec && plain.deliveredPerSec) {
      const ratio = durable.deliveredPerSec / plain.deliveredPerSec;
      out.push([
        'durable',
        'delivered/s within 2× of plain pub/sub (firehose)',
        `${fmtOps(durable.deliveredPerSec)} vs ${fmtOps(plain.deliveredPerSec)} delivered/s (${fmtRatio(ratio)})`,
        verdict(ratio >= 0.5),
      ]);
    }
  }
  // Telemetry (issue 16): with OpenTelemetry on both sides, redis-layer stays ahead of ioredis.
  for (const id of ['get', 'setget']) {
    const ours = summary[id] && summary[id]['redis-layer (OpenTelemetry)'];
    const theirs = summary[id] && summary[id]['ioredis (OpenTelemetry)'];
    if (ours && theirs && ours.opsPerSec && theirs.opsPerSec) {
      const ratio = ours.opsPerSec / theirs.opsPerSec;
      out.push([id, 'OpenTelemetry on: > ioredis with instrumentation-ioredis', `${fmtRatio(ratio)}`, verdict(ratio > 1)]);
    }
  }
  for (const w of workloads) {
    const row = layer(w.id);
    const ref = summary[w.id] && summary[w.id]['node-redis'];
    if (row && row.maxRssKb && ref && ref.maxRssKb) {
      out.push([w.id, 'peak RSS ≤ node-redis', `${fmtMb(row.maxRssKb)} vs ${fmtMb(ref.maxRssKb)} MB`, verdict(row.maxRssKb <= ref.maxRssKb)]);
    }
  }
  if (soak && !soak.samples) out.push(['long run', 'RSS levels off, no errors', soak.failure, verdict(null)]);
  if (soak && soak.samples) {
    const operations = soak.operations.toLocaleString('en-US');
    out.push(['long run', `RSS levels off over ${operations} operations`, `×${soak.growth.toFixed(2)} after warm-up`, verdict(levelsOff(soak))]);
    out.push(['long run', 'no failed operations', `${soak.errors} errors`, verdict(soak.errors === 0)]);
  }
  return ['| workload | target | redis-layer | verdict |', '| --- | --- | --- | --- |', ...out.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The soak's RSS samples and its verdict: memory must level off after warm-up, not climb. */
function longRun(soak) {
  if (!soak.samples) return `Not measured: ${soak.failure}.`;
  const rate = soak.seconds ? Math.round(soak.operations / soak.seconds).toLocaleString('en-US') : '—';
  return [
    `redis-layer alone (\`bench/soak.js\`, also \`npm run bench:soak\`): ${soak.operations.toLocaleString('en-US')} mixed operations (gets, sets with TTL, mget, exists, del and, where the services exist, checkLimit, getSession, publish) at 64 concurrent callers, ${rate} ops/s, ${soak.errors} errors; RSS after a full GC at every tenth.`,
    '',
    '| operations | RSS MB | V8 heap used MB | external MB |',
    '| ---: | ---: | ---: | ---: |',
    ...soak.samples.map((s) => `| ${s.ops.toLocaleString('en-US')} | ${s.rssMb.toFixed(1)} | ${s.heapMb.toFixed(1)} | ${s.externalMb.toFixed(1)} |`),
    '',
    `At the end RSS is ×${soak.growth.toFixed(2)} the sample at ${soak.baseOps.toLocaleString('en-US')} operations (limit ×${soak.growthLimit}): ${levelsOff(soak) ? 'levels off' : '**still climbing**'}.`,
  ].join('\n');
}

function renderReport({ info, workloads, names, summary, serverCeiling, soak, minutes }) {
  const parts = [
    '# redis-layer benchmark results',
    '',
    `Generated by \`npm run bench\` on ${info.date} (commit ${info.commit}), ${info.seconds} s per client per workload, ${info.rounds} rounds, medians (peak RSS: the highest of the rounds). Total run time ${minutes.toFixed(1)} min.`,
    '',
    '## Machine',
    '',
    `- CPU: ${info.cores} cores (os.cpus()), ${info.cpuModel}; ${info.memoryGb} GB memory; ${info.os}; load average at start ${info.loadavg}`,
    `- Node ${info.node}; redis-server ${info.redis} on loopback, same machine (\`--save "" --appendonly no\`)`,
    `- Peers: node-redis ${info.versions.redis}, ioredis ${info.versions.ioredis}, @valkey/valkey-glide ${info.versions['@valkey/valkey-glide']}, bentocache ${info.versions.bentocache}`,
    '',
    'Each (client, workload) pair runs in its own child process (so RSS and CPU are that client\'s), clients interleaved in a rotating order, every pair once per round. "vs fastest peer" divides by the fastest of node-redis, ioredis (±auto-pipelining) and GLIDE running the seed\'s code; "share of null ceiling" divides by the null client (the same JavaScript work without Redis). CPU µs/op is the client process\'s user+system time per operation (all its threads); Redis CPU µs/op is the redis-server process\'s user+system time over the same timed run (from /proc/<pid>/stat, 10 ms ticks) divided by the operations: what each call costs the server. On a shared 2-core machine, expect ±20% between runs.',
    '',
    '## Server ceiling: redis-benchmark (C client, same server, -P 1, -d 1000)',
    '',
    '| test | ops/s | p50 ms | p99 ms |',
    '| --- | ---: | ---: | ---: |',
    ...Object.entries(serverCeiling).map(([t, r]) => `| ${t} | ${fmtOps(r.opsPerSec)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} |`),
    '',
    '## Workloads',
    '',
  ];
  for (const workload of workloads) parts.push(workloadTable(workload, summary[workload.id], names), '');
  if (soak) parts.push('## Long run', '', longRun(soak), '');
  parts.push('## Targets (issue 6)', '', targets(workloads, summary, names, serverCeiling, soak), '');
  return parts.join('\n');
}

module.exports = { renderReport };
