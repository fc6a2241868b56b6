'use strict';
// Runs one autocannon load and computes exact latency percentiles from the
// per-response times (autocannon's own histogram is in whole milliseconds).

const autocannon = require('autocannon');
const { jsonHeaders } = require('./graphql');
const { percentile } = require('./stats');

// A body containing an "errors" key is a GraphQL error, even with HTTP 200.
const bodyHasNoErrors = (body) => !body.includes('"errors"');

// Turns a scenario workload into autocannon `requests`.
// workload: { body, headers } (same request every time) or
//           { requests: [...], headers } (autocannon request list, may be dynamic)
function toRequests(url, workload) {
  const path = new URL(url).pathname;
  const headers = jsonHeaders(workload.headers);
  if (workload.requests) {
    return workload.requests.map((r) => ({ method: 'POST', path, ...r, headers: { ...headers, ...r.headers } }));
  }
  const body = typeof workload.body === 'string' ? workload.body : JSON.stringify(workload.body);
  return [{ method: 'POST', path, headers, body }];
}

function runAutocannon(opts, onResponse) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    if (onResponse) instance.on('response', onResponse);
  });
}

// Returns { responses, seconds, reqPerSec, p50Ms, p99Ms, non2xx, errorBodies, connErrors, timeouts }.
//
// workload.amount (optional): a fixed number of requests instead of a duration, for single-use
// requests (logins) drawn from a pool the workload prepares: workload.prepare(n) adds n to it and
// is awaited before the warm-up (workload.warmupAmount requests) and before every batch of
// workload.batchSize requests (default: all at once). Only autocannon's time counts as measured
// time, never the preparation between batches.
// workload.expectStatus (optional): the one status that counts as success (e.g. 302 for a login's
// redirect); otherwise any 2xx. workload.problems() (optional) adds error counts the workload
// itself detected (e.g. a bad redirect target, an exhausted pool).
// cpuSeconds (optional): the server process's CPU time so far; the run then reports the server's
// CPU milliseconds per response over the measured part (less sensitive to a busy machine than req/s).
// beforeMeasure(): awaited between the warm-up and the measured run.
async function runLoad({ url, workload, connections, durationS, warmupS, cpuSeconds, beforeMeasure }) {
  const base = {
    url: new URL(url).origin,
    connections,
    requests: toRequests(url, workload),
    verifyBody: bodyHasNoErrors,
  };
  const times = [];
  let non2xx = 0;
  const unexpected = workload.expectStatus ? (status) => status !== workload.expectStatus : (status) => status < 200 || status >= 300;
  let lastResponseAt = 0n;
  const record = (client, status, bytes, ms) => {
    lastResponseAt = process.hrtime.bigint();
    times.push(ms);
    if (unexpected(status)) non2xx++;
  };
  const totals = { seconds: 0, errorBodies: 0, connErrors: 0, timeouts: 0, cpuSeconds: 0 };
  const cpu = () => (cpuSeconds ? cpuSeconds() : null);
  const measure = async (opts) => {
    const started = process.hrtime.bigint();
    const cpuBefore = cpu();
    const result = await runAutocannon(opts, record);
    // Up to the last response: autocannon notices a fixed amount is done only at its next 1 s tick.
    const ended = lastResponseAt > started ? lastResponseAt : process.hrtime.bigint();
    totals.seconds += Number(ended - started) / 1e9;
    const cpuAfter = cpu();
    totals.cpuSeconds = cpuBefore == null || cpuAfter == null || totals.cpuSeconds == null ? null : totals.cpuSeconds + cpuAfter - cpuBefore;
    totals.errorBodies += result.mismatches;
    totals.connErrors += result.errors;
    totals.timeouts += result.timeouts;
  };
  // autocannon refuses fewer requests than connections.
  const fixedRun = async (amount) => {
    if (workload.prepare) await workload.prepare(amount);
    return { ...base, connections: Math.min(connections, amount), amount };
  };

  const fixed = workload.amount != null;
  if (warmupS > 0) {
    const warmupAmount = workload.warmupAmount || connections;
    await runAutocannon(fixed ? await fixedRun(warmupAmount) : { ...base, duration: warmupS });
  }
  if (beforeMeasure) await beforeMeasure();
  const before = workload.problems ? workload.problems() : {};
  if (fixed) {
    const batch = workload.batchSize || workload.amount;
    for (let done = 0; done < workload.amount; done += batch) await measure(await fixedRun(Math.min(batch, workload.amount - done)));
  } else {
    await measure({ ...base, duration: durationS });
  }

  const sorted = Float64Array.from(times).sort();
  const problems = {};
  if (workload.problems) {
    // Only what happened during the measured run counts (warm-up problems are not errors of the row).
    for (const [name, count] of Object.entries(workload.problems())) {
      const delta = count - (before[name] || 0);
      if (delta) problems[name] = delta;
    }
  }
  return {
    responses: times.length,
    seconds: totals.seconds,
    reqPerSec: times.length / totals.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    serverCpuMsPerResponse: totals.cpuSeconds == null || times.length === 0 ? null : (totals.cpuSeconds * 1000) / times.length,
    non2xx,
    expectStatus: workload.expectStatus || null,
    errorBodies: totals.errorBodies,
    connErrors: totals.connErrors,
    timeouts: totals.timeouts,
    ...(fixed ? { amount: workload.amount } : {}),
    ...(Object.keys(problems).length ? { problems } : {}),
  };
}

module.exports = { runLoad };
