'use strict';
// A private redis-server on a free loopback port (the package's own `redis-layer/testing`), so
// the bench never touches a server someone else uses and can flush it freely.
const { execFileSync } = require('node:child_process');
const { startTestRedis } = require('redis-layer/testing');

const startServer = () => startTestRedis();

function serverVersion() {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    return (/v=(\S+)/.exec(out) || [])[1] || out.trim();
  } catch {
    return 'unknown';
  }
}

module.exports = { startServer, serverVersion };
