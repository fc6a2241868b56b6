'use strict';
// Runs the service with the V8 CPU profiler on (node refuses --cpu-prof in NODE_OPTIONS):
//
//   BENCH_SERVICE_MAIN=bench/profile-main.js BENCH_ONLY=saml BENCH_ROUNDS=1 node bench/run.js
//
// Writes <BENCH_PROFILE_DIR or os.tmpdir()>/rbac-<pid>.cpuprofile when the service exits (the
// harness stops it with SIGTERM; the service then exits by itself). Open it in Chrome DevTools or
// summarize it with `node bench/profile-summary.js <file>`. BENCH_PROFILE_MAIN names the entry
// point (default dist/src/server/main.js).

const fs = require('node:fs');
const inspector = require('node:inspector');
const os = require('node:os');
const path = require('node:path');

const main = path.resolve(__dirname, '..', process.env.BENCH_PROFILE_MAIN || 'dist/src/server/main.js');
const file = path.join(process.env.BENCH_PROFILE_DIR || os.tmpdir(), `rbac-${process.pid}.cpuprofile`);

const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
// Same-thread inspector sessions answer synchronously, so this works inside 'exit'.
process.on('exit', () => {
  session.post('Profiler.stop', (err, result) => {
    if (!err) fs.writeFileSync(file, JSON.stringify(result.profile));
  });
});
require(main);
