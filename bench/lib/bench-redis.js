'use strict';
// redis-benchmark (the C client) against the same server: the server-side ceiling.
const { execFile } = require('node:child_process');

function runOnce(port, clients, requests) {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-P', '1', '-c', String(clients), '-n', String(requests), '-d', '1000', '-t', 'set,get', '--csv'];
  return new Promise((resolve, reject) => {
    execFile('redis-benchmark', args, { encoding: 'utf8', timeout: 120_000 }, (error, stdout) => {
      if (error) return reject(error);
      const rows = {};
      const lines = stdout.trim().split('\n');
      const header = lines.shift().replace(/"/g, '').split(',');
      for (const line of lines) {
        const cells = line.replace(/"/g, '').split(',');
        const row = Object.fromEntries(header.map((h, i) => [h, cells[i]]));
        rows[row.test] = { opsPerSec: Number(row.rps), p50: Number(row.p50_latency_ms), p99: Number(row.p99_latency_ms) };
      }
      resolve(rows);
    });
  });
}

/** GET and SET at -c 1 and -c 256, sized so each test takes about `seconds`. */
async function redisBenchmark(port, seconds) {
  const one = await runOnce(port, 1, Math.max(2000, Math.round(15_000 * seconds)));
  const many = await runOnce(port, 256, Math.max(10_000, Math.round(80_000 * seconds)));
  return {
    'GET -c 1': one.GET,
    'SET -c 1': one.SET,
    'GET -c 256': many.GET,
    'SET -c 256': many.SET,
  };
}

module.exports = { redisBenchmark };
