'use strict';
// Benchmark harness: runs every scenario against a fresh server process,
// interleaved with the baseline server round by round, and reports
// throughput, exact p50/p99 latency and peak RSS.
//
//   node bench/run.js
//   BENCH_DURATION=3 BENCH_ONLY=me,can BENCH_DB=both node bench/run.js

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const scenarios = require('./scenarios');
const { startServer, killAll: killAllServers } = require('./lib/server');
const { killAllIdps } = require('./lib/oidc-idp');
const { runLoad } = require('./lib/load');
const { scrapeBuckets, percentileBound } = require('./lib/server-metrics');
const { post, gql, checkResponse, bearer } = require('./lib/graphql');
const { createDatabase } = require('./lib/postgres');
const { ratio } = require('./lib/stats');
const report = require('./lib/report');

const ROOT = path.resolve(__dirname, '..');
// BENCH_SERVICE_MAIN lets the harness be tried against another entry point (e.g. a mock).
const SERVICE_MAIN = path.resolve(ROOT, process.env.BENCH_SERVICE_MAIN || 'dist/src/server/main.js');
const BASELINE_MAIN = path.join(__dirname, 'baseline-server.js');
const RESULTS_DIR = path.join(__dirname, 'results');

function killAll() {
  killAllServers();
  killAllIdps();
}

function readConfig(env) {
  const num = (name, fallback) => {
    const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
    return value;
  };
  const dbChoice = env.BENCH_DB || 'sqlite';
  const dbs = { sqlite: ['sqlite'], postgres: ['postgres'], both: ['sqlite', 'postgres'] }[dbChoice];
  if (!dbs) throw new Error(`BENCH_DB must be sqlite, postgres or both (got "${dbChoice}")`);
  return {
    durationS: num('BENCH_DURATION', 5),
    warmupS: num('BENCH_WARMUP', 1),
    connections: num('BENCH_CONNECTIONS', 10),
    rounds: Math.max(1, Math.round(num('BENCH_ROUNDS', 2))),
    only: (env.BENCH_ONLY || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
    dbs,
    postgresUrl: env.BENCH_POSTGRES_URL || 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
    serviceLogLevel: env.BENCH_SERVICE_LOG_LEVEL || 'info',
  };
}

// The baseline always runs: every other row is compared with it.
function selectScenarios(config) {
  return scenarios.filter(
    (s) => s.server === 'baseline' || config.only.length === 0 || config.only.some((o) => s.name.toLowerCase().includes(o)),
  );
}

async function postgresReachable(url) {
  try {
    const db = await createDatabase(url);
    await db.drop();
    return null;
  } catch (err) {
    return err.message;
  }
}

// One job = one scenario on one database; a round runs every job once.
async function planJobs(config) {
  const selected = selectScenarios(config);
  const jobs = selected.filter((s) => s.server === 'baseline').map((scenario) => ({ scenario, db: null }));
  const serviceScenarios = selected.filter((s) => s.server === 'service');
  if (serviceScenarios.length === 0) return jobs;

  if (!fs.existsSync(SERVICE_MAIN)) {
    console.error(
      `SKIPPING ${serviceScenarios.length} service scenario(s): ${path.relative(ROOT, SERVICE_MAIN)} does not exist ` +
        '(build the service first: npm run build).',
    );
    return jobs;
  }
  let dbs = config.dbs;
  if (dbs.includes('postgres')) {
    const problem = await postgresReachable(config.postgresUrl);
    if (problem) {
      console.error(`SKIPPING postgres: cannot create a database via BENCH_POSTGRES_URL (${problem})`);
      dbs = dbs.filter((db) => db !== 'postgres');
    }
  }
  for (const scenario of serviceScenarios) for (const db of dbs) jobs.push({ scenario, db });
  return jobs;
}

// Returns { command, env, platformKey, cleanup() } for a fresh server process.
async function prepareServer(job, config) {
  if (job.scenario.server === 'baseline') {
    return { command: [process.execPath, BASELINE_MAIN], env: { ...process.env, PORT: '0' }, cleanup: async () => {} };
  }
  const platformKey = crypto.randomBytes(36).toString('base64url'); // 48 characters
  let databaseUrl;
  let cleanup;
  if (job.db === 'postgres') {
    const db = await createDatabase(config.postgresUrl);
    databaseUrl = db.url;
    cleanup = db.drop;
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rbac-bench-'));
    databaseUrl = `sqlite:${path.join(dir, 'bench.sqlite')}`;
    cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
  }
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: config.serviceLogLevel, // the "listening" line is logged at info
    DATABASE_URL: databaseUrl,
    RBAC_BOOTSTRAP_API_KEY: platformKey,
    ...job.scenario.env, // a scenario may configure the service (e.g. AUDIT_READS)
  };
  return { command: [process.execPath, SERVICE_MAIN], env, platformKey, cleanup, databaseUrl };
}

// If the service logs a bootstrap key, prefer it over the one we configured.
function platformKeyFrom(server, configuredKey) {
  if (!server.bootstrapLine) return configuredKey;
  try {
    const logged = JSON.parse(server.bootstrapLine).bootstrapApiKey;
    return typeof logged === 'string' && logged.length > 0 ? logged : configuredKey;
  } catch {
    return configuredKey;
  }
}

// Proves the workload answers with data and no errors before putting load on it.
async function verifyWorkload(url, workload) {
  if (workload.verify) return workload.verify();
  const problem = checkResponse(await post(url, workload.body, workload.headers));
  if (problem) throw new Error(`first response is not a success: ${problem}`);
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${name}: ${err.message}`);
  }
}

async function runJob(job, round, config) {
  const row = { round, scenario: job.scenario.name, server: job.scenario.server, db: job.db, status: 'ok' };
  let prepared = null;
  let server = null;
  let workload = null;
  try {
    prepared = await step('database', () => prepareServer(job, config));
    server = await startServer({ command: prepared.command, env: prepared.env, cwd: ROOT });
    const ctx = {
      url: server.url,
      platformKey: platformKeyFrom(server, prepared.platformKey),
      bearer,
      gql: (query, variables, headers) => gql(server.url, query, variables, headers),
      databaseUrl: prepared.databaseUrl,
      serverPid: server.pid,
    };
    const setupStarted = process.hrtime.bigint();
    workload = await step('setup', () => job.scenario.setup(ctx, config));
    row.setupSeconds = Number(process.hrtime.bigint() - setupStarted) / 1e9;
    await step('check', () => verifyWorkload(server.url, workload));
    // serverMetric: read the service's own histogram of that root field around the load.
    const metricsBase = server.url.replace(/\/graphql$/, '');
    let metricsBefore = null;
    const beforeMeasure = workload.serverMetric
      ? async () => {
          metricsBefore = await step('metrics', () => scrapeBuckets(metricsBase, ctx.bearer(ctx.platformKey), workload.serverMetric));
        }
      : undefined;
    // A workload with run() measures itself (e.g. one streamed export) instead of an autocannon load.
    const load = workload.run
      ? await step('run', () => workload.run())
      : await runLoad({
          url: server.url,
          workload,
          connections: config.connections,
          durationS: config.durationS,
          warmupS: config.warmupS,
          beforeMeasure,
          cpuSeconds: server.cpuSeconds,
        });
    Object.assign(row, load);
    if (metricsBefore) {
      const after = await step('metrics', () => scrapeBuckets(metricsBase, ctx.bearer(ctx.platformKey), workload.serverMetric));
      row.serverP95BoundMs = percentileBound(metricsBefore, after, 95);
      row.serverP99BoundMs = percentileBound(metricsBefore, after, 99);
    }
    if (workload.run) row.single = true;
    if (workload.note) row.note = workload.note;
    if (workload.unit) {
      row.unit = workload.unit;
      if (row.unitsPerSec == null) row.unitsPerSec = load.reqPerSec / (workload.requestsPerUnit || 1);
    }
    row.peakRssMb = server.peakRssMb();
    row.serverStdoutMb = server.stdoutBytesAfterListening() / 1024 ** 2;
  } catch (err) {
    row.status = 'failed';
    row.error = err.message;
  } finally {
    // A scenario may have started peers of its own (e.g. the OIDC test IdP).
    if (workload && workload.cleanup) await workload.cleanup().catch((err) => console.error(`scenario cleanup failed: ${err.message}`));
    if (server) await server.stop();
    if (prepared) await prepared.cleanup().catch((err) => console.error(`cleanup failed: ${err.message}`));
  }
  return row;
}

function compareWithBaseline(runs) {
  for (const run of runs) {
    const base = runs.find((r) => r.round === run.round && r.server === 'baseline' && r.status === 'ok');
    if (!base || run.status !== 'ok' || run.single) continue; // a single download has nothing to compare
    run.vsBaseline = ratio(run.reqPerSec, base.reqPerSec);
    run.p99VsBaseline = ratio(run.p99Ms, base.p99Ms);
  }
}

function describe(row) {
  const where = row.db ? ` [${row.db}]` : '';
  if (row.status !== 'ok') return `round ${row.round}: ${row.scenario}${where} FAILED\n  ${row.error.replace(/\n/g, '\n  ')}`;
  const flags = report.hasErrors(row) ? '  <-- ERRORS' : '';
  if (row.single) {
    return (
      `round ${row.round}: ${row.scenario}${where}: ${row.rows} ${row.unit} in ${row.seconds.toFixed(2)} s = ` +
      `${row.unitsPerSec.toFixed(0)} ${row.unit}/s, service RSS during it ${row.exportPeakRssMb?.toFixed(1)} MB (peak since start ${row.peakRssMb?.toFixed(1)} MB)${flags}`
    );
  }
  const server = row.serverP95BoundMs == null ? '' : `, server-side p95 <= ${row.serverP95BoundMs} ms, p99 <= ${row.serverP99BoundMs} ms`;
  return (
    `round ${row.round}: ${row.scenario}${where}: ${row.reqPerSec.toFixed(1)} req/s, ` +
    `p50 ${row.p50Ms?.toFixed(2) ?? '-'} ms, p99 ${row.p99Ms?.toFixed(2) ?? '-'} ms${server}` +
    `${row.serverCpuMsPerResponse != null ? `, server CPU ${row.serverCpuMsPerResponse.toFixed(2)} ms/response` : ''}${flags}`
  );
}

async function main() {
  const config = readConfig(process.env);
  const info = report.machine();
  const jobs = await planJobs(config);

  const runs = [];
  for (let round = 1; round <= config.rounds; round++) {
    for (const job of jobs) {
      const row = await runJob(job, round, config);
      console.error(describe(row));
      runs.push(row);
    }
  }
  compareWithBaseline(runs);

  const file = report.writeJson(RESULTS_DIR, { date: new Date().toISOString(), machine: info, config, runs });
  console.log(report.header(info, config));
  console.log('');
  console.log(report.runsTable(runs));
  console.log('');
  console.log('Median over rounds:');
  console.log('');
  console.log(report.summaryTable(runs));
  console.log('');
  console.log(`Results written to ${path.relative(process.cwd(), file)}`);

  const bad = runs.filter(report.hasErrors);
  if (bad.length) {
    console.error(`${bad.length} run(s) failed or saw errors; see the errors column.`);
    process.exitCode = 1;
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

main().catch((err) => {
  killAll();
  console.error(err.stack || err);
  process.exit(1);
});
