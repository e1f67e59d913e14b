// Finds the stalls in a V8 .cpuprofile (from `node --cpu-prof`): runs of samples with no "(idle)"
// sample for at least MIN_MS, i.e. times the event loop never got back to waiting. For each stall
// prints when it began (s since the profile started), how long it ran, and the frames that held it
// (inclusive time within the stall, top N), so a periodic stall can be traced to its cause.
// A busy tracker is rarely idle for long at high load: run it at a rate well below its maximum.
// usage: node bench/cpuprofile-stalls.mjs FILE.cpuprofile [MIN_MS=30] [N=8]
import { readFileSync } from 'node:fs';

const [file, minArg, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node cpuprofile-stalls.mjs FILE.cpuprofile [MIN_MS] [N]');
  process.exit(2);
}
const minUs = Number(minArg ?? 30) * 1000;
const topN = Number(nArg ?? 8);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of prof.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const shorten = (url) => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
const label = (cf) => `${(cf.functionName || '(anonymous)').slice(0, 50)} ${shorten(cf.url) || '(native)'}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
const isIdle = (id) => byId.get(id).callFrame.functionName === '(idle)';

// Sample times (µs since start) and their stalls.
const t = [];
let now = 0;
for (let i = 0; i < prof.samples.length; i++) t.push((now += prof.timeDeltas[i] ?? 0));
const stalls = [];
let from = -1;
for (let i = 0; i <= prof.samples.length; i++) {
  const busy = i < prof.samples.length && !isIdle(prof.samples[i]);
  if (busy && from < 0) from = i;
  if (!busy && from >= 0) {
    if (t[i - 1] - t[from] >= minUs) stalls.push([from, i]);
    from = -1;
  }
}
console.log(`${stalls.length} stalls of ${minUs / 1000} ms or more in ${(now / 1e6).toFixed(1)} s of profile`);
for (const [a, b] of stalls) {
  const incl = new Map();
  for (let i = a; i < b; i++) {
    const dt = (t[i + 1] ?? t[i]) - t[i];
    const seen = new Set();
    for (let id = prof.samples[i]; id !== undefined; id = parent.get(id)) {
      const k = label(byId.get(id).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const total = t[b - 1] - t[a];
  console.log(`\nat ${(t[a] / 1e6).toFixed(2)} s: ${(total / 1000).toFixed(1)} ms`);
  const skip = /^\((root|program)\)|^\(anonymous\) \(native\)$/;
  [...incl].filter(([k]) => !skip.test(k)).sort((x, y) => y[1] - x[1]).slice(0, topN)
    .forEach(([k, us]) => console.log(`  ${(us / 1000).toFixed(1).padStart(7)} ms  ${k}`));
}
