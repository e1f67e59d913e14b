/**
 * bench/cpuprofile-stalls.mjs on a real profile: a Node process under `--cpu-prof` that idles and
 * blocks its event loop twice, in two differently named functions. The script must report both
 * blocks as stalls, with their length and the function that held the loop, and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCRIPT = join(ROOT, 'bench', 'cpuprofile-stalls.mjs');

// Idle (timers only) around two busy blocks: 250 ms in blockFirst, 120 ms in blockSecond.
const PROGRAM = `
function spin(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }
function blockFirst() { return spin(250); }
function blockSecond() { return spin(120); }
const idle = (ms) => new Promise((r) => setTimeout(r, ms));
await idle(150); blockFirst(); await idle(200); blockSecond(); await idle(150);
`;

test('cpuprofile-stalls finds each block of the event loop, how long it was and what held it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stalls-'));
  try {
    const run = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '500', `--cpu-prof-dir=${dir}`, '--input-type=module', '-e', PROGRAM], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr);
    const [profile] = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    assert.ok(profile, 'node wrote a profile');
    const out = spawnSync(process.execPath, [SCRIPT, join(dir, profile), '80', '3'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(out.status, 0, out.stderr);
    const stalls = [...out.stdout.matchAll(/^at ([\d.]+) s: ([\d.]+) ms\n((?: .*\n?)*)/gm)].map((m) => ({ at: Number(m[1]), ms: Number(m[2]), frames: m[3]! }));
    // Start-up (module loading) may be one stall of its own; the two blocks must be there, in order.
    const blocks = stalls.filter((s) => /block(First|Second)/.test(s.frames));
    assert.equal(blocks.length, 2, out.stdout);
    // Each stall names the function that blocked it (blockX and the spin it calls hold it all), and not the other.
    assert.match(blocks[0]!.frames, /blockFirst/);
    assert.doesNotMatch(blocks[0]!.frames, /blockSecond/);
    assert.match(blocks[1]!.frames, /blockSecond/);
    assert.doesNotMatch(blocks[1]!.frames, /blockFirst/);
    for (const b of blocks) {
      const ms = Number(/^ +([\d.]+) ms +block/m.exec(b.frames)![1]);
      assert.ok(ms >= 0.9 * b.ms, `the blocking function holds the stall: ${ms} of ${b.ms} ms`);
    }
    assert.ok(blocks[0]!.ms >= 230 && blocks[0]!.ms < 400, `first block measured ${blocks[0]!.ms} ms`);
    assert.ok(blocks[1]!.ms >= 100 && blocks[1]!.ms < 250, `second block measured ${blocks[1]!.ms} ms`);
    assert.ok(blocks[1]!.at - blocks[0]!.at >= 0.4, 'the idle time between them is not a stall');
    assert.ok(stalls.length <= 3, `no stall while idle: ${out.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
