// Prints where a sampling heap profile's bytes were allocated (bench/heap-sampler.mjs), by function: self and
// inclusive. With ANNOUNCES (how many the tracker answered in the sampled window) the figures are bytes per announce.
// usage: node bench/heap-sampler-top.mjs FILE.heapprofile [ANNOUNCES=1] [N=25]
import { readFileSync } from 'node:fs';

const [file, announcesArg, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node heap-sampler-top.mjs FILE.heapprofile [ANNOUNCES] [N]');
  process.exit(2);
}
const per = Number(announcesArg ?? 1);
const n = Number(nArg ?? 25);
const { head } = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map();
const inclusive = new Map();
let total = 0;
const nameOf = (f) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/dist\//, '').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`;
// Inclusive bytes count a function once per path, however often it recurses.
function walk(node, onPath) {
  const name = nameOf(node.callFrame);
  total += node.selfSize;
  self.set(name, (self.get(name) ?? 0) + node.selfSize);
  const first = !onPath.has(name);
  if (first) onPath.add(name);
  let sum = node.selfSize;
  for (const child of node.children) sum += walk(child, onPath);
  if (first) {
    onPath.delete(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + sum);
  }
  return sum;
}
walk(head, new Set());
const unit = per === 1 ? 'bytes' : 'bytes per announce';
const show = (title, map) => {
  console.log(`\n${title} (${unit})`);
  for (const [name, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${(bytes / per).toFixed(0).padStart(10)}  ${name}`);
};
console.log(`${(total / 1048576).toFixed(1)} MB sampled${per === 1 ? '' : `, ${(total / per).toFixed(0)} bytes per announce`}`);
show('self', self);
show('inclusive', inclusive);
