/**
 * bench/hiccup.c, the machine hiccup meter bench/open-loop.sh runs on the tracker's core: compiled
 * here and run for 3 s. A stall is made by stopping it (SIGSTOP) for 150 ms: like a core the
 * hypervisor did not run, it wakes that much late, and must say so in its window and its summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBenchC } from '../support/bench-c.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOURCE = join(ROOT, 'bench', 'hiccup.c');
const STALL_MS = 150;

/** key=value words of a line. */
function fields(line: string): Record<string, string> {
  return Object.fromEntries(line.split(/\s+/).filter((w) => w.includes('=')).map((w) => w.split('=') as [string, string]));
}

test('bench/hiccup.c: reports a stall of its core in the window it happened in, and in the summary', { timeout: 30_000 }, async (t) => {
  const built = compileBenchC(t, SOURCE, 'the hiccup meter');
  if (built === undefined) return;
  const { bin } = built;

  assert.notEqual(spawnSync(bin, ['0', '0']).status, 0, 'SECONDS below 1 is refused');

  // Core 0, 3 s, 1 s windows; stopped for STALL_MS in its second window.
  const child = spawn(bin, ['0', '3', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise((r) => setTimeout(r, 1300));
  child.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, STALL_MS));
  child.kill('SIGCONT');
  assert.equal(await exited, 0, out);

  const lines = out.trim().split('\n');
  const windows = lines.filter((l) => l.startsWith('t=')).map(fields);
  const summary = fields(lines.find((l) => l.startsWith('hiccup ')) ?? '');
  assert.ok(windows.length >= 2, out);
  assert.equal(summary['core'], '0');
  // The stall shows where it happened, and nowhere else: the first window was quiet.
  assert.ok(Number(windows[1]!['max_us']) >= (STALL_MS - 30) * 1000, `second window: ${out}`);
  assert.ok(Number(windows[1]!['over10ms']) >= 1, out);
  assert.ok(Number(windows[0]!['max_us']) < 50_000, `first window quiet: ${out}`);
  assert.ok(Number(summary['max_us']) >= (STALL_MS - 30) * 1000 && Number(summary['over10ms']) >= 1, out);
  assert.ok(Number(summary['lost_ms']) >= STALL_MS - 30, out);
});
