'use strict';
// The CPU time a process has used (user + system, all its threads), from /proc/<pid>/stat: how the
// bench charges redis-server's work to the workload that caused it. Null where /proc is missing.
const fs = require('node:fs');

/** Clock ticks per second of /proc's utime/stime; 100 on every Linux the bench runs on. */
const TICKS_PER_SECOND = 100;

function cpuMicros(pid) {
  if (!pid || pid < 0) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which sits in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
    return Number.isFinite(ticks) ? (ticks * 1e6) / TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}

module.exports = { cpuMicros };
