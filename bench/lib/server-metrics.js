'use strict';
// Server-side time of one GraphQL root field, from the service's Prometheus histogram
// rbac_graphql_root_field_seconds on GET /metrics (platform key). The histogram counts from the
// resolver's start until its audit entry is durable; HTTP parsing and response writing are outside.

const HISTOGRAM = 'rbac_graphql_root_field_seconds_bucket';

// Returns Map(upper bound in seconds → cumulative count) of the field's successful answers.
async function scrapeBuckets(baseUrl, headers, operation) {
  const response = await fetch(`${baseUrl}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}`);
  const buckets = new Map();
  for (const line of (await response.text()).split('\n')) {
    if (!line.startsWith(HISTOGRAM) || !line.includes(`operation="${operation}"`) || !line.includes('outcome="ok"')) continue;
    const le = /le="([^"]+)"/.exec(line)[1];
    buckets.set(le === '+Inf' ? Infinity : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

// The smallest bucket bound (ms) under which at least p% of the answers counted between the two
// scrapes fell: "p95 ≤ that many ms". null when nothing was counted.
function percentileBound(before, after, p) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) || 0) - (before.get(Infinity) || 0);
  if (total <= 0) return null;
  for (const bound of bounds) {
    if ((after.get(bound) || 0) - (before.get(bound) || 0) >= (p / 100) * total) return bound * 1000;
  }
  return Infinity;
}

module.exports = { scrapeBuckets, percentileBound };
