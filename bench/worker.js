'use strict';
// Runs one (client, workload) pair in its own process, so that its peak RSS and CPU time are that
// client's alone, and reports the measurement to bench/run.js over IPC.
const { performance } = require('node:perf_hooks');
const { createClient } = require('./clients');
const { WORKLOADS } = require('./lib/workloads');
const { Histogram } = require('./lib/histogram');
const { USERS, makeUser, userKey } = require('./lib/data');
const { cpuMicros } = require('./lib/server-cpu');

const now = () => performance.now();

async function timed(workload, services, ctx, seconds, checks, serverPid) {
  const histogram = new Histogram();
  const deadline = now() + seconds * 1000;
  let seq = 0;
  let ops = 0;
  let errors = 0;
  let firstError;
  const caller = async (c) => {
    for (;;) {
      const t0 = now();
      if (t0 >= deadline) return;
      try {
        const result = await workload.op(services, ctx, c, seq++);
        if (checks.left > 0) {
          checks.left--;
          if (!workload.check(result)) throw new Error(`unexpected result: ${JSON.stringify(result)?.slice(0, 200)}`);
        }
        histogram.recordMs(now() - t0);
        ops++;
      } catch (error) {
        errors++;
        firstError ??= error;
        if (checks.left >= 0) throw error;
      }
    }
  };
  const start = now();
  const cpuBefore = process.cpuUsage();
  const serverBefore = cpuMicros(serverPid);
  const all = Promise.all(Array.from({ length: workload.concurrency }, (_, c) => caller(c)));
  let timer;
  const stuck = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('callers did not finish 10 s after the time box')), seconds * 1000 + 10_000);
  });
  try {
    await Promise.race([all, stuck]);
  } finally {
    clearTimeout(timer);
  }
  const elapsed = (now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverAfter = cpuMicros(serverPid);
  const serverMicros = serverBefore === null || serverAfter === null ? null : serverAfter - serverBefore;
  return { ops, errors, firstError, elapsed, histogram, cpuMicros: cpu.user + cpu.system, serverMicros };
}

/** Gauges among a tier's stats (redis-layer's localStats), reported as they end; the rest are counters. */
const GAUGES = new Set(['entries', 'bytes']);

/** A tier's stats over the timed run: counters as `after` minus `before`, gauges as `after`. */
function difference(after, before) {
  const out = {};
  for (const [name, value] of Object.entries(after)) {
    if (typeof value === 'number') out[name] = GAUGES.has(name) ? value : value - (before[name] ?? 0);
  }
  return out;
}

async function main(job) {
  const workload = WORKLOADS.find((w) => w.id === job.workload);
  if (!workload) throw new Error(`unknown workload ${job.workload}`);
  const services = await createClient(job.client, { url: job.url, port: job.port });
  if (!services[workload.service]) return { na: true };
  const ctx = {};
  if (job.client === 'null client') {
    // The Redis clients find these keys on the server (bench/run.js preloads it); the null client keeps its own copy.
    for (let i = 0; i < USERS; i++) await services.cache.set(userKey(i), makeUser(i));
  }
  if (workload.prepare) await workload.prepare(services, ctx);
  // Warm-up: JIT, connection buffers, first-call costs; also checks that results have the right shape.
  const checks = { left: 20 };
  await timed(workload, services, ctx, Math.min(0.3, job.seconds / 2), checks);
  checks.left = -1;
  const deliveredBefore = workload.delivered?.(ctx);
  const tierBefore = services.tierStats ? await services.tierStats() : undefined;
  const run = await timed(workload, services, ctx, job.seconds, checks, job.serverPid);
  const delivered = workload.delivered ? workload.delivered(ctx) - deliveredBefore : undefined;
  const tier = tierBefore ? difference(await services.tierStats(), tierBefore) : undefined;
  const result = {
    ops: run.ops,
    opsPerSec: run.ops / run.elapsed,
    deliveredPerSec: delivered === undefined ? undefined : delivered / run.elapsed,
    errors: run.errors,
    firstError: run.firstError ? String(run.firstError.message || run.firstError) : undefined,
    p50: run.histogram.quantileMs(0.5),
    p99: run.histogram.quantileMs(0.99),
    cpuPerOp: run.ops ? run.cpuMicros / run.ops : null,
    serverCpuPerOp: run.ops && run.serverMicros !== null ? run.serverMicros / run.ops : null,
    maxRssKb: process.resourceUsage().maxRSS,
    // A local tier's counters over the timed run (hits, misses and what else it counts).
    tier,
  };
  if (workload.cleanup) await Promise.race([workload.cleanup(services, ctx), new Promise((r) => setTimeout(r, 5000))]).catch(() => {});
  await Promise.race([services.close(), new Promise((r) => setTimeout(r, 2000))]).catch(() => {});
  return result;
}

process.once('message', (job) => {
  main(job)
    .then(
      (result) => result,
      (error) => ({ failed: String((error && error.stack) || error) }),
    )
    .then((result) => process.send(result, () => process.exit(0)));
});
