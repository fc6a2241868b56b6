'use strict';
// Starts the test suite's OIDC identity providers (test/support/oidc-idp.mjs: oidc-provider 9 with
// real authorization codes and RS256 ID tokens, plus a forging IdP the bench does not use) as a
// child process on 127.0.0.1 and talks to its admin API. The .mjs runs as is: no build needed.

const { spawn } = require('node:child_process');
const path = require('node:path');

const IDP_MAIN = path.resolve(__dirname, '../../test/support/oidc-idp.mjs');
const START_TIMEOUT_MS = 20_000;
const live = new Set();

/** Returns { real, forge, admin(issuer, path, body), stop() }. */
function startTestIdps() {
  // stdin is a pipe: when the harness dies, its end closes and the IdP process exits by itself.
  const child = spawn(process.execPath, [IDP_MAIN], { env: { ...process.env, NODE_ENV: 'test' }, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  };
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`test IdP did not start in ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test IdP exited with ${code}: ${stderr}`));
    });
    const onData = (chunk) => {
      stdout += chunk.toString('utf8');
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stdout.resume(); // drain anything later
      let urls;
      try {
        urls = JSON.parse(stdout.split('\n')[0]);
      } catch {
        reject(new Error(`unexpected test IdP output: ${stdout.slice(0, 300)}`));
        return;
      }
      resolve({ ...urls, pid: child.pid, admin, stop });
    };
    child.stdout.on('data', onData);
  });
}

async function admin(issuer, adminPath, body) {
  const response = await fetch(`${issuer}${adminPath}`, {
    ...(body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`IdP admin ${adminPath} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

function killAllIdps() {
  for (const child of live) child.kill('SIGKILL');
}

module.exports = { startTestIdps, killAllIdps };
