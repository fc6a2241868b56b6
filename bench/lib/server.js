'use strict';
// Start a server as a child process, wait for its "listening" line, read its
// peak RSS from /proc and stop it with SIGTERM.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const readline = require('node:readline');

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const live = new Set();

// Accepts the baseline's {"listening": port} and the service's pino line
// {"msg":"listening","port":...}. Returns the port or null.
function listeningPort(obj) {
  if (!obj || typeof obj !== 'object') return null;
  if (Number.isInteger(obj.listening)) return obj.listening;
  if (obj.msg === 'listening' && obj.port) return Number(obj.port);
  return null;
}

function parseJsonLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

// command: [executable, ...args]; returns { pid, port, url, bootstrapLine, stop(), peakRssMb() }
function startServer({ command, env, cwd }) {
  const child = spawn(command[0], command.slice(1), {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));

  const stderrTail = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
  });

  const server = { child, pid: child.pid, port: null, url: null, bootstrapLine: null };

  return new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      stopChild(child).finally(() =>
        reject(new Error(`${why}\n  command: ${command.join(' ')}\n  stderr tail:\n    ${stderrTail.join('\n    ')}`)),
      );
    };
    const timer = setTimeout(() => fail(`server did not print a "listening" line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once('error', (err) => fail(`could not start server: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (!server.port) fail(`server exited before listening (code ${code}, signal ${signal})`);
    });

    // stdout is read line by line until the "listening" line, then only
    // drained (counted), so a logger that logs every request never blocks on a
    // full pipe and costs the load generator as little CPU as possible.
    onLines(child.stdout, (line) => {
      if (line.includes('"bootstrapApiKey"') && !server.bootstrapLine) server.bootstrapLine = line;
      const port = listeningPort(parseJsonLine(line));
      if (!port) return false;
      clearTimeout(timer);
      server.port = port;
      server.url = `http://127.0.0.1:${port}/graphql`;
      server.stop = () => stopChild(child);
      server.peakRssMb = () => peakRssMb(child.pid);
      server.cpuSeconds = () => cpuSeconds(child.pid);
      server.stdoutBytesAfterListening = () => drained.bytes;
      resolve(server);
      return true;
    });
    const drained = { bytes: 0 };
    child.stdout.on('data', (chunk) => {
      if (server.port) drained.bytes += chunk.length;
    });
  });
}

// Calls onLine(line) for each complete line until it returns true.
function onLines(stream, onLine) {
  let buffered = '';
  let done = false;
  stream.on('data', (chunk) => {
    if (done) return;
    buffered += chunk.toString('utf8');
    let newline;
    while (!done && (newline = buffered.indexOf('\n')) >= 0) {
      done = onLine(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
    if (done) buffered = '';
  });
}

// VmHWM is the peak resident set size of the process since it started.
function peakRssMb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// User + system CPU time the process has used so far (utime + stime in /proc/<pid>/stat), or null.
const CLOCK_TICKS = 100; // USER_HZ, 100 on Linux
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // fields 14 and 15
  } catch {
    return null;
  }
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// Last-resort cleanup when the harness itself is interrupted.
function killAll() {
  for (const child of live) child.kill('SIGKILL');
}

module.exports = { startServer, killAll, listeningPort };
