// Preloaded into a tracker (`node --import=bench/heap-sampler.mjs`, or NODE_FLAGS=... with bench/open-loop.sh):
// V8's sampling heap profiler over a window of the run, written as a .heapprofile per thread. Unlike
// `node --heap-prof`, which keeps only what is still alive at the end, it can count garbage too, which is
// what a GC problem is made of:
//   HEAP_SAMPLE_KEEP=survivors (default): objects that outlived the scavenges (promoted to the old
//     generation, or still alive): what the full mark-compacts have to collect;
//   HEAP_SAMPLE_KEEP=all: every allocation, garbage included (what drives the scavenges).
// HEAP_SAMPLE_START (s after start, default 12), HEAP_SAMPLE_SECONDS (15), HEAP_SAMPLE_DIR (default
// the working directory), HEAP_SAMPLE_INTERVAL (bytes between samples, 4096). Read the result with
// `node bench/heap-sampler-top.mjs FILE [ANNOUNCES]`. Only for measuring: the profiler costs CPU,
// and stopping it forces a full GC.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const keepAll = (process.env.HEAP_SAMPLE_KEEP ?? 'survivors') === 'all';
const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));

setTimeout(async () => {
  await post('HeapProfiler.startSampling', {
    samplingInterval: env('HEAP_SAMPLE_INTERVAL', 4096),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: keepAll,
  });
  setTimeout(async () => {
    const { profile } = await post('HeapProfiler.stopSampling');
    const file = join(process.env.HEAP_SAMPLE_DIR ?? '.', `heap-${keepAll ? 'all' : 'survivors'}-${process.pid}-${threadId}.heapprofile`);
    writeFileSync(file, JSON.stringify(profile));
  }, env('HEAP_SAMPLE_SECONDS', 15) * 1000).unref();
}, env('HEAP_SAMPLE_START', 12) * 1000).unref();
