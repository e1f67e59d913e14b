/**
 * The status page under `serve --workers 2` (workers-program.ts: the real primary and workers on
 * memory storage): the primary serves /status and /status.json over the workers' merged
 * registries, one instance row per worker, every announce counted once.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeBytes, get } from '../support/http-client.js';
import { WORKERS_PROGRAM, openTrackerConfig, startWorkersProcess } from '../support/workers-process.js';
import type { StatusSummary } from '../../src/metrics/status-summary.js';

const PROGRAM = WORKERS_PROGRAM;
const ANNOUNCES = 40;

it('serve --workers 2: the primary\'s /status.json merges both workers, one row each', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-status-workers-'));
  writeFileSync(join(dir, 'config.yaml'), openTrackerConfig('').join('\n'));
  const p = await startWorkersProcess(PROGRAM, [join(dir, 'config.yaml'), '2'], { workers: 2, cwd: dir });
  try {
    for (let i = 0; i < ANNOUNCES; i++) {
      const id = Buffer.alloc(20, 0x41);
      id.writeUInt32BE(i, 16);
      const r = await get(p.port('http'), `/announce?info_hash=${escapeBytes(Buffer.alloc(20, 7))}&peer_id=${escapeBytes(id)}&port=6881&uploaded=0&downloaded=0&left=10`);
      assert.equal(r.status, 200);
    }
    const metrics = p.port('metrics');
    assert.equal((await get(metrics, '/status')).status, 200);
    const s = JSON.parse((await get(metrics, '/status.json')).body.toString()) as StatusSummary;
    assert.equal(s.mode, 'workers');
    assert.deepEqual(s.instances.map((i) => i.instance), ['worker 1', 'worker 2']);
    const announced = s.requests.filter((r) => r.action === 'announce' && r.outcome === 'ok').reduce((a, r) => a + r.total, 0);
    assert.equal(announced, ANNOUNCES, 'every announce counted once across the workers');
    assert.equal(s.instances.reduce((a, i) => a + i.requests_total, 0), ANNOUNCES);
    assert.ok(s.instances.every((i) => (i.rss_bytes ?? 0) > 0), 'each worker reports its memory');
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0, p.output);
  } finally {
    p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
