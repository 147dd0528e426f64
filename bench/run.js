'use strict';
// npm run bench: every client on every workload against one private redis-server, each
// (client, workload) pair in its own child process, clients interleaved, several rounds, medians.
//   BENCH_SECONDS   time box per pair and round (default 1.5)
//   BENCH_ROUNDS    rounds (default 3)
//   BENCH_CLIENTS   comma-separated subset of client names (default: all)
//   BENCH_WORKLOADS comma-separated subset of workload ids (default: all)
//   BENCH_OUT       where to write the report (default bench/RESULTS.md)
//   BENCH_SOAK      0 leaves out the long-run memory check that ends the run (bench/soak.js)
//   BENCH_BASELINE  another build of redis-layer, run beside it as 'redis-layer (baseline)' (an A/B)
const { fork, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, serverVersion } = require('./lib/server');
const { redisBenchmark } = require('./lib/bench-redis');
const { CLIENTS, runs } = require('./clients');
const { WORKLOADS } = require('./lib/workloads');
const { USERS, makeUser, userKey } = require('./lib/data');
const { renderReport } = require('./lib/report');

const SECONDS = Number(process.env.BENCH_SECONDS || 1.5);
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS || 3)));
const pick = (env, all) => (env ? env.split(',').map((s) => s.trim()).filter((s) => all.includes(s)) : all);
const clientNames = pick(process.env.BENCH_CLIENTS, Object.keys(CLIENTS));
const workloads = WORKLOADS.filter((w) => pick(process.env.BENCH_WORKLOADS, WORKLOADS.map((x) => x.id)).includes(w.id));

function runPair(client, workload, server) {
  return new Promise((resolve) => {
    const child = fork(path.join(__dirname, 'worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    const done = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ failed: 'timed out' });
    }, SECONDS * 2000 + 60_000);
    child.once('message', done);
    child.once('exit', (code, signal) => done({ failed: `worker exited (${signal || code}) without a result` }));
    child.send({ client, workload: workload.id, seconds: SECONDS, url: server.url, port: server.port, serverPid: server.pid });
  });
}

/** Whether the redis-layer build exports the service a workload needs (checked in a child, so this process stays clean). */
function redisLayerHas(service) {
  try {
    const out = execFileSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(path.join(__dirname, 'clients', 'redis-layer'))}).available(${JSON.stringify(service)})))`], { encoding: 'utf8' });
    return out === 'true';
  } catch {
    return false;
  }
}

function glideLoads() {
  try {
    execFileSync(process.execPath, ['-e', "require('@valkey/valkey-glide')"], { cwd: __dirname, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Long enough for 1 000 000 operations on a slow machine; a hung soak must not hold the report. */
const SOAK_TIMEOUT_MS = 10 * 60 * 1000;

/** The long-run memory check (bench/soak.js, its own redis-server), after the timed rounds. */
function runSoak() {
  console.log('\nlong run: bench/soak.js');
  return new Promise((resolve) => {
    let result = null;
    const child = fork(path.join(__dirname, 'soak.js'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      result ??= { failure: `bench/soak.js did not finish within ${SOAK_TIMEOUT_MS / 60000} min` };
      child.kill('SIGKILL');
    }, SOAK_TIMEOUT_MS);
    child.on('message', (message) => (result ??= message));
    // 'close', not 'exit': it comes after the IPC channel has delivered the last message.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(result ?? { failure: `bench/soak.js ended (${signal ?? `exit code ${code}`}) before reporting` });
    });
  });
}

async function preload(server) {
  const { createClient } = require('redis');
  const client = createClient({ url: server.url });
  await client.connect();
  for (let i = 0; i < USERS; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, k) => client.set(userKey(i + k), JSON.stringify(makeUser(i + k)))));
  }
  await client.quit();
}

function machine() {
  const cpus = os.cpus();
  let rev = 'unknown';
  try {
    rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: path.join(__dirname, '..'), encoding: 'utf8' }).trim();
  } catch {
    // not a checkout
  }
  // Some packages (GLIDE) do not export package.json: read it beside the resolved entry point.
  const version = (name) => {
    try {
      let dir = path.dirname(require.resolve(name));
      while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name) {
        const up = path.dirname(dir);
        if (up === dir) return 'unknown';
        dir = up;
      }
      return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    } catch {
      return 'not installed';
    }
  };
  return {
    cores: cpus.length,
    cpuModel: cpus[0] ? cpus[0].model : 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: serverVersion(),
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    commit: rev,
    versions: { redis: version('redis'), ioredis: version('ioredis'), '@valkey/valkey-glide': version('@valkey/valkey-glide'), bentocache: version('bentocache') },
    seconds: SECONDS,
    rounds: ROUNDS,
    date: new Date().toISOString(),
  };
}

/** A local tier's hits over its lookups in the timed run, or null for a client without one. */
const hitRatio = (tier) => (tier && tier.hits + tier.misses > 0 ? tier.hits / (tier.hits + tier.misses) : null);

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

async function main() {
  const started = Date.now();
  const names = clientNames.filter((name) => {
    if (name.startsWith('valkey-glide') && !glideLoads()) {
      console.log(`${name}: its native package does not load on this machine; skipped`);
      return false;
    }
    return true;
  });
  const server = await startServer();
  const cleanup = () => server.stop();
  process.once('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    const info = machine();
    console.log(`redis-server ${info.redis} on port ${server.port}; ${info.cores} cores; Node ${info.node}; ${SECONDS}s x ${ROUNDS} rounds`);
    await preload(server);

    const na = new Map(workloads.map((w) => [w.id, w.service !== 'cache' && names.includes('redis-layer') && !redisLayerHas(w.service)]));
    const samples = {}; // workload -> client -> [result]
    const serverRuns = [];
    for (let round = 0; round < ROUNDS; round++) {
      console.log(`\nround ${round + 1}/${ROUNDS}`);
      serverRuns.push(await redisBenchmark(server.port, SECONDS));
      workloads.forEach((workload, wi) => (samples[workload.id] ??= {}));
      for (const [wi, workload] of workloads.entries()) {
        const offset = (round + wi) % names.length;
        const order = [...names.slice(offset), ...names.slice(0, offset)];
        for (const client of order) {
          if (!runs(client, workload.id)) continue;
          const bucket = (samples[workload.id][client] ??= []);
          if (client === 'redis-layer' && na.get(workload.id)) {
            bucket.push({ na: true });
            continue;
          }
          const result = await runPair(client, workload, server);
          bucket.push(result);
          const line = result.failed
            ? `FAILED: ${result.failed.split('\n')[0]}`
            : result.na
              ? 'n/a: not available'
              : `${Math.round(result.opsPerSec)} ops/s${result.serverCpuPerOp == null ? '' : `, redis ${result.serverCpuPerOp.toFixed(2)} µs/op`}${hitRatio(result.tier) == null ? '' : `, local hits ${(hitRatio(result.tier) * 100).toFixed(1)}%`}${result.errors ? ` (${result.errors} errors: ${result.firstError})` : ''}`;
          console.log(`  ${workload.id.padEnd(10)} ${client.padEnd(26)} ${line}`);
        }
      }
    }

    const summary = {};
    for (const workload of workloads) {
      summary[workload.id] = {};
      for (const client of names) {
        if (!runs(client, workload.id)) continue;
        const results = samples[workload.id][client] || [];
        const ok = results.filter((r) => !r.failed && !r.na);
        if (ok.length === 0) {
          const failed = results.find((r) => r.failed);
          summary[workload.id][client] = failed ? { failed: failed.failed.split('\n')[0] } : { na: true };
          continue;
        }
        summary[workload.id][client] = {
          opsPerSec: median(ok.map((r) => r.opsPerSec)),
          deliveredPerSec: median(ok.map((r) => r.deliveredPerSec)),
          p50: median(ok.map((r) => r.p50)),
          p99: median(ok.map((r) => r.p99)),
          cpuPerOp: median(ok.map((r) => r.cpuPerOp)),
          serverCpuPerOp: median(ok.map((r) => r.serverCpuPerOp)),
          maxRssKb: Math.max(...ok.map((r) => r.maxRssKb)),
          hitRatio: median(ok.map((r) => hitRatio(r.tier))),
          tier: ok[ok.length - 1].tier,
          errors: ok.reduce((n, r) => n + (r.errors || 0), 0),
          rounds: ok.length,
        };
      }
    }
    const serverCeiling = {};
    for (const test of Object.keys(serverRuns[0])) {
      serverCeiling[test] = {
        opsPerSec: median(serverRuns.map((r) => r[test] && r[test].opsPerSec)),
        p50: median(serverRuns.map((r) => r[test] && r[test].p50)),
        p99: median(serverRuns.map((r) => r[test] && r[test].p99)),
      };
    }
    const out = process.env.BENCH_OUT || path.join(__dirname, 'RESULTS.md');
    const render = (soak) => renderReport({ info, workloads, names, summary, serverCeiling, soak, minutes: (Date.now() - started) / 60000 });
    // Written before the soak too, so the timed rounds survive whatever happens to it.
    fs.writeFileSync(out, render(null));
    const soak = names.includes('redis-layer') && process.env.BENCH_SOAK !== '0' ? await runSoak() : null;
    const report = render(soak);
    fs.writeFileSync(out, report);
    console.log(`\n${report}`);
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
