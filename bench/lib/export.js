'use strict';
// A single streamed download (not an autocannon load): GET the audit export and count its lines
// as the bytes arrive, while sampling the service's resident memory.

const fs = require('node:fs');
const http = require('node:http');

const RSS_SAMPLE_MS = 20;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

function rssMb(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// GET url with headers; resolves { status, contentType, lines, bytes, seconds, firstLine } once the
// body has ended. `limitBytes` stops reading (and closes the connection) after that many bytes.
function download(url, headers, { limitBytes = Infinity } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.get(url, { headers, agent: false }, (response) => {
      let lines = 0;
      let bytes = 0;
      let head = '';
      const finish = () =>
        resolve({
          status: response.statusCode,
          contentType: response.headers['content-type'] || '',
          lines,
          bytes,
          seconds: Number(process.hrtime.bigint() - started) / 1e9,
          firstLine: head.split('\n')[0],
        });
      response.on('data', (chunk) => {
        if (head.length < 4096) head += chunk.toString('utf8', 0, Math.min(chunk.length, 4096));
        bytes += chunk.length;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
        if (bytes >= limitBytes) {
          response.destroy();
          finish();
        }
      });
      response.on('end', finish);
      response.on('error', reject);
    });
    request.setTimeout(DOWNLOAD_TIMEOUT_MS, () => request.destroy(new Error(`no answer within ${DOWNLOAD_TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

// Workload for bench/run.js: `run()` replaces the autocannon load.
// expectRows: the export must hold at least this many lines.
function exportWorkload(ctx, { path, headers, expectRows }) {
  const url = ctx.url.replace(/\/graphql$/, path);
  return {
    unit: 'rows',
    note: 'one streamed download: req/s = downloads/s, no latency percentiles',
    verify: async () => {
      const first = await download(url, headers, { limitBytes: 64 * 1024 });
      if (first.status !== 200) throw new Error(`export: HTTP ${first.status} ${first.firstLine.slice(0, 200)}`);
      if (!first.contentType.startsWith('application/x-ndjson')) throw new Error(`export: content-type ${first.contentType}`);
      if (!JSON.parse(first.firstLine).id) throw new Error(`export: first line has no id: ${first.firstLine.slice(0, 200)}`);
    },
    run: async () => {
      let peakRss = rssMb(ctx.serverPid);
      const sampler = setInterval(() => {
        const now = rssMb(ctx.serverPid);
        if (now != null && (peakRss == null || now > peakRss)) peakRss = now;
      }, RSS_SAMPLE_MS);
      let result;
      try {
        result = await download(url, headers);
      } finally {
        clearInterval(sampler);
      }
      const ok = result.status === 200 && result.lines >= expectRows;
      if (!ok) console.error(`export: HTTP ${result.status}, ${result.lines} lines (expected at least ${expectRows})`);
      return {
        responses: 1,
        seconds: result.seconds,
        reqPerSec: 1 / result.seconds,
        p50Ms: null,
        p99Ms: null,
        non2xx: result.status === 200 ? 0 : 1,
        errorBodies: result.status === 200 && !ok ? 1 : 0,
        connErrors: 0,
        timeouts: 0,
        rows: result.lines,
        megabytes: result.bytes / 1024 ** 2,
        unitsPerSec: result.lines / result.seconds,
        exportPeakRssMb: peakRss,
      };
    },
  };
}

module.exports = { exportWorkload, download };
