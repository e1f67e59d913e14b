// Prints the top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`), and the same
// grouped by file. usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N=25]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node cpuprofile-top.mjs FILE.cpuprofile [N]');
  process.exit(2);
}
const n = Number(nArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((node) => [node.id, node]));
// Self time: each sample is charged to its node, for the time until the next sample.
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
// Idle time (waiting in the event loop) is left out: percentages are of the time spent working.
for (const [id] of self) if (byId.get(id).callFrame.functionName === '(idle)') self.delete(id);
const total = [...self.values()].reduce((a, b) => a + b, 0);
const shorten = (url) => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:');
const fnKey = (cf) => `${(cf.functionName || '(anonymous)').slice(0, 60)}  ${shorten(cf.url) || '(native)'}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
const byFn = new Map();
const byFile = new Map();
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  byFn.set(fnKey(cf), (byFn.get(fnKey(cf)) ?? 0) + us);
  const f = shorten(cf.url) || `(${(cf.functionName || 'native').slice(0, 60)})`;
  byFile.set(f, (byFile.get(f) ?? 0) + us);
}
const pct = (us) => ((us / total) * 100).toFixed(1).padStart(5) + '%';
console.log(`${file}: ${(total / 1e6).toFixed(2)} s of work sampled (idle excluded)`);
console.log('\nself time by function:');
for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}  ${k}`);
console.log('\nself time by file:');
for (const [k, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}  ${k}`);
