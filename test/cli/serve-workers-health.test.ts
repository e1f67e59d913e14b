/**
 * `privtrak serve --workers 2` (through workers-program.ts: the same primary and workers on memory
 * storage, no Redis; no privtrak hook: nothing on disk): every
 * worker answers GET /health and GET /ready on the shared HTTP listener, and the primary's merged
 * scrape carries each worker's event-loop delay and GC series (issue 15, points 3 and 4).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, escapeBytes } from '../support/http-client.js';
import { WORKERS_PROGRAM, openTrackerConfig, startWorkersProcess } from '../support/workers-process.js';

const CONFIG = openTrackerConfig('');

const PROGRAM = WORKERS_PROGRAM;

/** Workers ("1", "2") with a series `name{...}` whose labels contain `labels`. */
function workersWith(text: string, name: string, labels = ''): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) || !line.includes(labels)) continue;
    const worker = /worker="([^"]+)"/.exec(line)?.[1];
    if (worker !== undefined) out.add(worker);
  }
  return out;
}

describe('serve --workers 2: health checks and runtime metrics', () => {
  it('each worker answers /health and /ready; the merged scrape has every worker\'s event-loop and GC series', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-workers-health-'));
    writeFileSync(join(dir, 'config.yaml'), CONFIG.join('\n'));
    const p = await startWorkersProcess(PROGRAM, [join(dir, 'config.yaml'), '2'], { workers: 2, cwd: dir });
    try {
      const http = p.port('http');
      const metrics = p.port('metrics');
      assert.ok(http > 0 && metrics > 0, p.output);

      // Probes and announces on new connections (the kernel gives each to one worker), in bounded
      // rounds, until both workers have answered probes and both have run a young-generation GC
      // (a fresh worker has none yet: its GC series appear with the first collection).
      let text = '';
      let probed = new Set<string>();
      let collected = new Set<string>();
      const t0 = Date.now();
      for (let round = 0; round < 40 && Date.now() - t0 < 30_000 && (probed.size < 2 || collected.size < 2); round++) {
        const h = await get(http, '/health');
        assert.deepEqual([h.status, h.body.toString()], [200, 'ok\n']);
        const r = await get(http, '/ready');
        assert.deepEqual([r.status, r.body.toString()], [200, 'ready\n']);
        await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
          for (let i = 0; i < 25; i++) {
            const id = Buffer.alloc(20, 0x48);
            id.writeUInt32BE(round * 1000 + lane * 100 + i, 16);
            const a = await get(http, `/announce?info_hash=${escapeBytes(Buffer.alloc(20, 9))}&peer_id=${escapeBytes(id)}&port=6881&uploaded=0&downloaded=0&left=1`);
            assert.equal(a.status, 200);
          }
        }));
        text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
        probed = workersWith(text, 'privtrak_requests_total', 'action="other",outcome="ok"');
        collected = workersWith(text, 'privtrak_nodejs_gc_duration_seconds_count');
      }
      const series = (prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix)).join('\n');
      assert.deepEqual([...probed].sort(), ['1', '2'], `both workers answered probes:\n${series('privtrak_requests_total')}`);
      assert.deepEqual([...collected].sort(), ['1', '2'], `privtrak_nodejs_gc_duration_seconds per worker:\n${series('privtrak_nodejs_gc')}`);
      for (const q of ['max', 'p99', 'mean']) {
        assert.deepEqual([...workersWith(text, `privtrak_nodejs_eventloop_lag_${q}_seconds`)].sort(), ['1', '2'], `privtrak_nodejs_eventloop_lag_${q}_seconds per worker`);
      }
    } finally {
      p.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([p.exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), 10_000); })]);
      clearTimeout(timer);
      p.kill();
      rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, `stopped cleanly on SIGTERM:\n${p.output.slice(-2000)}`);
    }
  });
});
