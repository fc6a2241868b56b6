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
// beforeMeasure(): awaited between the warm-up and the measured run.
async function runLoad({ url, workload, connections, durationS, warmupS, beforeMeasure }) {
  const base = {
    url: new URL(url).origin,
    connections,
    requests: toRequests(url, workload),
    verifyBody: bodyHasNoErrors,
  };
  if (warmupS > 0) await runAutocannon({ ...base, duration: warmupS });
  if (beforeMeasure) await beforeMeasure();

  const times = [];
  let non2xx = 0;
  const started = process.hrtime.bigint();
  const result = await runAutocannon({ ...base, duration: durationS }, (client, status, bytes, ms) => {
    times.push(ms);
    if (status < 200 || status >= 300) non2xx++;
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const sorted = Float64Array.from(times).sort();
  return {
    responses: times.length,
    seconds,
    reqPerSec: times.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    non2xx,
    errorBodies: result.mismatches,
    connErrors: result.errors,
    timeouts: result.timeouts,
  };
}

module.exports = { runLoad };
