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
// workload.amount (optional): a fixed number of requests instead of a duration (single-use
// requests such as logins, drawn from a pre-generated pool); workload.warmupAmount likewise for
// the warm-up. workload.expectStatus (optional): the one status that counts as success (e.g. 302
// for a login's redirect); otherwise any 2xx. workload.problems() (optional) adds error counts the
// workload itself detected (e.g. a bad redirect target, an exhausted pool).
async function runLoad({ url, workload, connections, durationS, warmupS }) {
  const base = {
    url: new URL(url).origin,
    connections,
    requests: toRequests(url, workload),
    verifyBody: bodyHasNoErrors,
  };
  const fixed = workload.amount != null;
  if (fixed && workload.amount < connections) throw new Error(`amount ${workload.amount} is below the ${connections} connections`);
  const warmupAmount = fixed ? Math.max(connections, workload.warmupAmount || 0) : 0;
  if (warmupS > 0) await runAutocannon(fixed ? { ...base, amount: warmupAmount } : { ...base, duration: warmupS });
  const before = workload.problems ? workload.problems() : {};

  const times = [];
  let non2xx = 0;
  const unexpected = workload.expectStatus ? (status) => status !== workload.expectStatus : (status) => status < 200 || status >= 300;
  const started = process.hrtime.bigint();
  const measured = fixed ? { ...base, amount: workload.amount } : { ...base, duration: durationS };
  const result = await runAutocannon(measured, (client, status, bytes, ms) => {
    times.push(ms);
    if (unexpected(status)) non2xx++;
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

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
    seconds,
    reqPerSec: times.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    non2xx,
    expectStatus: workload.expectStatus || null,
    errorBodies: result.mismatches,
    connErrors: result.errors,
    timeouts: result.timeouts,
    ...(fixed ? { amount: workload.amount } : {}),
    ...(Object.keys(problems).length ? { problems } : {}),
  };
}

module.exports = { runLoad };
