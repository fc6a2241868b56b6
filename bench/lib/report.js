'use strict';
// Machine description, markdown tables and the JSON result file.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median } = require('./stats');

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus.length ? cpus[0].model.trim() : 'unknown',
    cores: cpus.length,
    totalMemGb: os.totalmem() / 1024 ** 3,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

const fixed = (value, digits) => (value == null ? '-' : value.toFixed(digits));
// Two decimals, or two significant digits below 0.1 (a login row is ~0.002x the baseline).
const times = (value) => (value == null ? '-' : `${value < 0.1 ? value.toPrecision(2) : value.toFixed(2)}x`);

function throughputCell(run) {
  const rps = fixed(run.reqPerSec, run.single ? 3 : 1);
  // A fixed-count run (single-use requests such as logins): how many, in how long.
  if (run.amount != null) return `${rps} (${run.amount} ${run.unit || 'requests'} in ${fixed(run.seconds, 1)} s)`;
  return run.unit ? `${rps} (${fixed(run.unitsPerSec, run.single ? 0 : 1)} ${run.unit}/s)` : rps;
}

// A single measured download (bench/lib/export.js) names what its row means and the memory it took.
function scenarioCell(run) {
  if (run.serverP95BoundMs != null) return `${run.scenario} [server-side p95 ≤ ${run.serverP95BoundMs} ms, p99 ≤ ${run.serverP99BoundMs} ms]`;
  if (!run.single) return run.scenario;
  const rss = run.exportPeakRssMb == null ? '' : `; service RSS during it ${fixed(run.exportPeakRssMb, 1)} MB`;
  return `${run.scenario} [${run.note || 'single run'}${rss}]`;
}

// Markdown cells must not contain pipes or newlines.
const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function hasErrors(run) {
  return run.status !== 'ok' || run.responses === 0 || Boolean(run.non2xx || run.errorBodies || run.connErrors || run.timeouts || run.problems);
}

function problemsCell(run) {
  if (run.status === 'failed') return cell(`FAILED: ${run.error.slice(0, 160)}`);
  const parts = [];
  if (run.non2xx) parts.push(`${run.non2xx} ${run.expectStatus ? `not ${run.expectStatus}` : 'non-2xx'}`);
  if (run.errorBodies) parts.push(`${run.errorBodies} GraphQL error bodies`);
  if (run.connErrors) parts.push(`${run.connErrors} conn errors`);
  if (run.timeouts) parts.push(`${run.timeouts} timeouts`);
  for (const [name, count] of Object.entries(run.problems || {})) parts.push(`${count} ${name}`);
  return parts.length ? `**${parts.join(', ')}**` : 'none';
}

function header(info, config) {
  return [
    `Machine: ${info.cpu}, ${info.cores} cores, ${info.totalMemGb.toFixed(1)} GB RAM, Node ${info.node} (${info.platform})`,
    `Load: ${config.connections} connections, ${config.durationS} s per run after ${config.warmupS} s warm-up, ` +
      `${config.rounds} rounds, databases: ${config.dbs.join(', ')}`,
  ].join('\n');
}

function runsTable(runs) {
  const lines = [
    '| round | scenario | db | req/s | req/s vs base | p50 ms | p99 ms | p99 vs base | peak RSS MB | errors |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of runs) {
    lines.push(
      `| ${r.round} | ${cell(scenarioCell(r))} | ${r.db || '-'} | ${throughputCell(r)} | ${times(r.vsBaseline)} | ` +
        `${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${times(r.p99VsBaseline)} | ${fixed(r.peakRssMb, 1)} | ${problemsCell(r)} |`,
    );
  }
  return lines.join('\n');
}

// Median over rounds for each scenario/db pair.
function summaryTable(runs) {
  const groups = new Map();
  for (const r of runs.filter((run) => run.status === 'ok')) {
    const key = `${r.scenario}|${r.db || '-'}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const lines = [
    '| scenario | db | runs | median req/s | median vs base | median p99 ms | median p99 vs base | runs with errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [key, group] of groups) {
    const [scenario, db] = key.split('|');
    const m = (field) => median(group.map((r) => r[field]));
    const unit = group[0].unit;
    const throughput = unit ? `${fixed(m('reqPerSec'), group[0].single ? 3 : 1)} (${fixed(m('unitsPerSec'), group[0].single ? 0 : 1)} ${unit}/s)` : fixed(m('reqPerSec'), 1);
    lines.push(
      `| ${scenario} | ${db} | ${group.length} | ${throughput} | ${times(m('vsBaseline'))} | ` +
        `${fixed(m('p99Ms'), 2)} | ${times(m('p99VsBaseline'))} | ${group.filter(hasErrors).length} |`,
    );
  }
  return lines.join('\n');
}

function writeJson(dir, result) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

module.exports = { hasErrors, machine, header, runsTable, summaryTable, writeJson };
