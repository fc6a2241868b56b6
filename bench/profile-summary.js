'use strict';
// Summarizes a .cpuprofile: self time per function and per package (top N), and inclusive time
// of each package.   node bench/profile-summary.js <file.cpuprofile> [N] [last-seconds]
// last-seconds: only the samples of the profile's last S seconds (e.g. the measured run, not the
// setup that prepared it). The run's length is in the harness's table ("N logins in S s").

const fs = require('node:fs');

const [file, topArg, lastArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.js <file.cpuprofile> [N]');
  process.exit(2);
}
const top = Number(topArg || 30);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const times = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) times.push((t += delta));
const from = lastArg ? profile.endTime - Number(lastArg) * 1e6 : -Infinity;
const selfTicks = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  if (times[i] < from) return;
  selfTicks.set(id, (selfTicks.get(id) || 0) + 1);
  total++;
});

const where = (cf) => {
  const url = cf.url || '';
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.includes('/dist/src/')) return `src/${url.split('/dist/src/')[1].split('/')[0]}`;
  if (url.startsWith('node:')) return 'node';
  return url ? 'other' : `(${cf.functionName || 'native'})`;
};

const byFn = new Map();
const byPkg = new Map();
for (const [id, ticks] of selfTicks) {
  const cf = nodes.get(id).callFrame;
  const fn = `${cf.functionName || '(anonymous)'} ${(cf.url || '').split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) || 0) + ticks);
  byPkg.set(where(cf), (byPkg.get(where(cf)) || 0) + ticks);
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${name}`);
};
console.log(`${total} samples`);
show('self time by package / src folder', byPkg);
show('self time by function', byFn);

// Inclusive time: a sample counts for every distinct package on its stack.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
const inclusive = new Map();
for (const [id, ticks] of selfTicks) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) seen.add(where(nodes.get(cur).callFrame));
  for (const w of seen) inclusive.set(w, (inclusive.get(w) || 0) + ticks);
}
show('inclusive time by package / src folder', inclusive);
