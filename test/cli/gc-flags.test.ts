import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { spawnSync } from 'node:child_process';
import {
  HEAP_GROWING_PERCENT, RECOMMENDED_NODE_FLAGS, RECOMMENDED_SEMI_SPACE_MB, applyHeapGrowing, gcFlagsNote, heapGrowingPercentOf, logGcFlags, memoryReducerOn, semiSpaceSizeMb,
} from '../../src/cli/gc-flags.js';
import { waitUntil } from '../e2e/clients.js';
import { MAIN, startTracker, waitExit, withConfig } from '../support/tracker-process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** node's flags in a command line `node <flags> <script> ...`: the words between node and the first that is not a flag. */
function nodeFlagsOf(command: string): string[] {
  const words = command.trim().split(/\s+/);
  assert.match(words[0] ?? '', /(^|\/)node$/, `${command} starts node`);
  const flags: string[] = [];
  for (const w of words.slice(1)) {
    if (!w.startsWith('--')) break;
    flags.push(w);
  }
  return flags;
}

describe('V8 garbage-collector flags (src/cli/gc-flags.ts)', () => {
  it('reads --max-semi-space-size from the flags and NODE_OPTIONS, the command line winning', () => {
    assert.equal(semiSpaceSizeMb([], undefined), undefined);
    assert.equal(semiSpaceSizeMb(['--max-semi-space-size=32'], undefined), 32);
    assert.equal(semiSpaceSizeMb([], '--enable-source-maps --max_semi_space_size=64'), 64);
    assert.equal(semiSpaceSizeMb(['--max-semi-space-size=16'], '--max-semi-space-size=64'), 16);
    assert.equal(semiSpaceSizeMb(['--max-old-space-size=4096'], '--max-semi-space-sizeX=9'), undefined);
  });

  it('reads whether the memory reducer runs: on unless the command line turns it off, the last flag winning', () => {
    assert.equal(memoryReducerOn([]), true);
    assert.equal(memoryReducerOn(['--no-memory-reducer']), false);
    assert.equal(memoryReducerOn(['--no_memory_reducer']), false);
    assert.equal(memoryReducerOn(['--memory-reducer=false']), false);
    assert.equal(memoryReducerOn(['--no-memory-reducer', '--memory-reducer']), true);
    assert.equal(memoryReducerOn(['--no-memory-reducer-for-small-heaps']), true, 'another flag');
  });

  it('sets the old generation\'s growth at run time unless node\'s command line set one', () => {
    assert.equal(heapGrowingPercentOf([]), undefined);
    assert.equal(heapGrowingPercentOf(['--heap-growing-percent=300']), 300);
    assert.equal(heapGrowingPercentOf(['--heap_growing_percent=50', '--heap-growing-percent=70']), 70, 'the last one wins');
    assert.equal(heapGrowingPercentOf(['--heap-growing-percentile=9']), undefined, 'another flag');
    const set: string[] = [];
    assert.equal(applyHeapGrowing(['--max-semi-space-size=32'], (f) => set.push(f)), HEAP_GROWING_PERCENT);
    assert.deepEqual(set, [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
    assert.equal(applyHeapGrowing(['--heap-growing-percent=300'], (f) => set.push(f)), 300, 'the operator\'s choice stands');
    assert.equal(set.length, 1, 'and nothing is set over it');
  });

  it('the flag exists in this node\'s V8 (it says so of one that does not)', () => {
    const tryFlag = (flag: string) => spawnSync(process.execPath, ['-e', `require('node:v8').setFlagsFromString(${JSON.stringify(flag)})`], { encoding: 'utf8' });
    const ours = tryFlag(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    assert.equal(ours.status, 0);
    assert.equal(`${ours.stdout}${ours.stderr}`, '', 'V8 took the flag without a word');
    const bogus = tryFlag('--heap-growing-percentage=100');
    assert.match(`${bogus.stdout}${bogus.stderr}`, /unrecognized flag/);
  });

  it('says nothing more when both are set, and how to start node when either is missing', () => {
    assert.deepEqual(gcFlagsNote(['--max-semi-space-size=32', '--no-memory-reducer'], ''), { semiSpaceMb: 32, memoryReducer: false });
    assert.deepEqual(gcFlagsNote(['--no-memory-reducer'], '--max-semi-space-size=64'), { semiSpaceMb: 64, memoryReducer: false });
    for (const [argv, opts, mb, reducer] of [
      [['--max-semi-space-size=8', '--no-memory-reducer'], undefined, 8, false],
      [['--max-semi-space-size=32'], undefined, 32, true],
      [[], undefined, 'default', true],
    ] as const) {
      const note = gcFlagsNote(argv, opts);
      assert.equal(note.semiSpaceMb, mb);
      assert.equal(note.memoryReducer, reducer);
      assert.ok(note.hint?.includes('node --max-semi-space-size=32 --no-memory-reducer <privtrak> serve'), note.hint);
    }
    let out = '';
    const sink = new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } });
    logGcFlags(pino(sink), 100, gcFlagsNote([], undefined));
    assert.match(out, /"semiSpaceMb":"default","memoryReducer":true,"heapGrowingPercent":100,"msg":"V8 garbage collector not set for the tracker: for fewer/);
  });

  it('npm start and the systemd unit start node with the recommended flags, on its command line', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
    assert.deepEqual(nodeFlagsOf(pkg.scripts.start), [...RECOMMENDED_NODE_FLAGS], pkg.scripts.start);
    const unit = readFileSync(join(ROOT, 'contrib', 'systemd', 'privtrak.service'), 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    assert.deepEqual(nodeFlagsOf(execStart), [...RECOMMENDED_NODE_FLAGS], execStart);
    // node refuses --no-memory-reducer in NODE_OPTIONS: the unit must not move it there.
    assert.doesNotMatch(unit, /NODE_OPTIONS=.*memory-reducer/);
    assert.equal(semiSpaceSizeMb(nodeFlagsOf(execStart), undefined), RECOMMENDED_SEMI_SPACE_MB);
  });

  it('a tracker started as the unit starts it (node, the flags, the installed command) logs the collector as set', async () => {
    // `npm install -g` links the command to dist/src/cli/main.js under a name without .js; node runs it through the link.
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-bin-'));
    const command = join(dir, 'privtrak');
    symlinkSync(MAIN, command);
    const cfg = withConfig('metrics_addr: ""\nhttp: {addr: "127.0.0.1:0"}\nudp: {addr: ""}\n');
    let out = '';
    const child = await startTracker(cfg.path, { onOutput: (t) => { out += t; }, cwd: dirname(cfg.path), nodeFlags: RECOMMENDED_NODE_FLAGS, script: command });
    try {
      await waitUntil(() => out.includes('V8 garbage collector'), 5000, 'the garbage-collector log line');
      assert.match(out, /"semiSpaceMb":32,"memoryReducer":false,"heapGrowingPercent":100,"msg":"V8 garbage collector set for the tracker"/);
    } finally {
      child.kill('SIGKILL');
      await waitExit(child);
      cfg.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a tracker started with its own --heap-growing-percent keeps it', async () => {
    const cfg = withConfig('metrics_addr: ""\nhttp: {addr: "127.0.0.1:0"}\nudp: {addr: ""}\n');
    let out = '';
    const child = await startTracker(cfg.path, { onOutput: (t) => { out += t; }, cwd: dirname(cfg.path), nodeFlags: [...RECOMMENDED_NODE_FLAGS, '--heap-growing-percent=250'] });
    try {
      await waitUntil(() => out.includes('V8 garbage collector'), 5000, 'the garbage-collector log line');
      assert.match(out, /"heapGrowingPercent":250,"msg":"V8 garbage collector set for the tracker"/);
    } finally {
      child.kill('SIGKILL');
      await waitExit(child);
      cfg.cleanup();
    }
  });
});
