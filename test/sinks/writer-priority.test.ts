/**
 * The writer thread's CPU priority (writer-priority.ts): low while it keeps up, normal for a write
 * that runs past its budget, and left alone where the system would not give normal priority back.
 * The last two tests set real threads' nice values and read them back from /proc.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { LOW_NICE, WriterPriority, currentThreadId, type GetNice, type SetNice } from '../../src/sinks/writer-priority.js';
import { SqliteWorkerSink } from '../../src/sinks/sqlite-worker-sink.js';
import { pino } from 'pino';
import { MemorySink } from '../support/memory-sink.js';
import { makeHook, removeHookDirs } from '../support/hook-driver.js';

/** Records every nice value set; refuses to lower one below `floor` (as RLIMIT_NICE 0 does: nice may only go up). */
function fakeNice(floor = -20, start = 0): { set: SetNice; get: GetNice; calls: number[] } {
  const calls: number[] = [];
  let now = start;
  return {
    calls,
    get: () => now,
    set: (_tid, nice) => {
      if (nice < now && nice < floor) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      now = nice;
      calls.push(nice);
    },
  };
}

/** A thread's nice value, field 19 of /proc/<pid>/task/<tid>/stat (after the command's closing parenthesis). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

const linux = existsSync('/proc/thread-self');

/**
 * Runs writer-priority.js as user nobody, without capabilities (or with CAP_SYS_NICE alone, as
 * systemd's AmbientCapabilities= gives it), on a worker thread of its own; returns the state and the
 * thread's nice value after a write past its budget and after it, as `state nice-while-late
 * nice-after`. Undefined (with why) where that cannot be arranged: not root, or no setpriv
 * (util-linux). (RLIMIT_NICE, systemd's LimitNICE=+0, is the other way to allow it; it cannot be
 * raised here without CAP_SYS_RESOURCE, which this machine's root lacks.)
 */
function asNobody(capSysNice = false): { out?: string; why?: string } {
  if (process.getuid?.() !== 0) return { why: 'not root: cannot switch to user nobody' };
  if (spawnSync('setpriv', ['--version']).status !== 0) return { why: 'setpriv (util-linux) missing' };
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-nice-'));
  try {
    chmodSync(dir, 0o755);
    // writer-priority.js imports only node: modules, so a copy runs anywhere nobody can read.
    copyFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../src/sinks/writer-priority.js'), join(dir, 'writer-priority.mjs'));
    writeFileSync(join(dir, 'probe.mjs'), `
      import { Worker } from 'node:worker_threads';
      import { readFileSync } from 'node:fs';
      import { WriterPriority } from './writer-priority.mjs';
      const niceOf = (tid) => { const s = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16]); };
      const w = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.postMessage(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/')[2])); parentPort.on('message', () => process.exit(0));", { eval: true });
      const tid = await new Promise((r) => w.once('message', r));
      const p = new WriterPriority({ budgetMs: 20, idleMs: 10 });
      p.attach(tid);
      const state = p.state;
      p.writing();
      await new Promise((r) => setTimeout(r, 80));
      const late = niceOf(tid);
      p.idle();
      await new Promise((r) => setTimeout(r, 40));
      console.log(state, late, niceOf(tid));
      await w.terminate();
    `);
    // The machine's node when there is one (a Node under root's home is out of nobody's reach).
    const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
    const caps = capSysNice ? ['--inh-caps=+sys_nice', '--ambient-caps=+sys_nice'] : [];
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...caps, node, join(dir, 'probe.mjs')],
      { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) return { why: `the probe did not run as nobody: ${r.stderr.trim().split('\n')[0]}` };
    return { out: r.stdout.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('WriterPriority', () => {
  it('probes that normal priority can be had back, then lowers the thread', () => {
    const nice = fakeNice();
    const p = new WriterPriority({ setNice: nice.set, getNice: nice.get });
    assert.equal(p.state, 'unknown');
    p.attach(1234);
    assert.deepEqual(nice.calls, [1, 0, LOW_NICE]);
    assert.equal(p.state, 'low');
    assert.equal(p.kernelThreadId, 1234);
  });

  it('gives a write that runs past its budget normal priority, and takes it back once the thread stays idle', async () => {
    const nice = fakeNice();
    const p = new WriterPriority({ setNice: nice.set, getNice: nice.get, budgetMs: 20, idleMs: 20 });
    p.attach(1);
    nice.calls.length = 0;
    p.writing();
    p.writing(); // a second call in flight: one budget for both
    await sleep(60);
    assert.deepEqual(nice.calls, [0]);
    assert.equal(p.state, 'normal');
    assert.equal(p.promotions, 1);
    p.writing(); // still busy: stays normal
    await sleep(40);
    assert.deepEqual(nice.calls, [0]);
    p.idle();
    assert.deepEqual(nice.calls, [0], 'not at once: the next batch may follow right away');
    await sleep(60);
    assert.deepEqual(nice.calls, [0, LOW_NICE]);
    assert.equal(p.state, 'low');
  });

  it('keeps normal priority while writes follow each other (a writer catching up), and no budget wait for each', async () => {
    const nice = fakeNice();
    const p = new WriterPriority({ setNice: nice.set, getNice: nice.get, budgetMs: 20, idleMs: 40 });
    p.attach(1);
    nice.calls.length = 0;
    p.writing();
    await sleep(50);
    assert.equal(p.state, 'normal');
    for (let i = 0; i < 5; i++) {
      p.idle();
      await sleep(5); // the flusher's next batch, well within idleMs
      p.writing();
      await sleep(30);
    }
    assert.deepEqual(nice.calls, [0], 'promoted once, never lowered between batches');
    assert.equal(p.promotions, 1);
    p.idle();
    await sleep(80);
    assert.deepEqual(nice.calls, [0, LOW_NICE]);
  });

  it('leaves a write that ends within its budget at low priority', async () => {
    const nice = fakeNice();
    const p = new WriterPriority({ setNice: nice.set, getNice: nice.get, budgetMs: 30 });
    p.attach(1);
    nice.calls.length = 0;
    for (let i = 0; i < 3; i++) {
      p.writing();
      await sleep(5);
      p.idle();
    }
    await sleep(60);
    assert.deepEqual(nice.calls, []);
    assert.equal(p.promotions, 0);
    assert.equal(p.state, 'low');
  });

  it('stays at normal priority where the system would not give it back (no CAP_SYS_NICE, RLIMIT_NICE 0)', async () => {
    const nice = fakeNice(20);
    const p = new WriterPriority({ setNice: nice.set, getNice: nice.get, budgetMs: 10 });
    p.attach(1);
    assert.deepEqual(nice.calls, [1], 'raised to 1, and lowering back was refused: never to 19');
    assert.equal(p.state, 'unavailable');
    p.writing();
    await sleep(30);
    p.idle();
    assert.deepEqual(nice.calls, [1]);
  });

  it('treats the nice value the thread started with as normal (a tracker started under `nice -n 5`)', async () => {
    const nice = fakeNice(-20, 5);
    const p = new WriterPriority({ setNice: nice.set, getNice: nice.get, budgetMs: 10, idleMs: 10 });
    p.attach(1);
    assert.deepEqual(nice.calls, [6, 5, LOW_NICE]);
    p.writing();
    await sleep(30);
    assert.deepEqual(nice.calls, [6, 5, LOW_NICE, 5], 'back to 5, never above the process');
    const low = fakeNice(-20, LOW_NICE);
    const q = new WriterPriority({ setNice: low.set, getNice: low.get });
    q.attach(1);
    assert.equal(q.state, 'unavailable', 'already at the lowest priority: nothing to do');
    assert.deepEqual(low.calls, []);
  });

  it('is unavailable without a thread ID (no /proc/thread-self)', () => {
    const nice = fakeNice();
    const p = new WriterPriority({ setNice: nice.set, getNice: nice.get });
    p.attach(undefined);
    assert.equal(p.state, 'unavailable');
    assert.deepEqual(nice.calls, []);
  });

  it('sets a real thread: 19 while idle, 0 for a write past its budget, 19 again after', { skip: !linux && 'no /proc/thread-self (not Linux)' }, async () => {
    // A worker that reports its thread ID, then spins until told to stop.
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      const { readlinkSync } = require('node:fs');
      parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/')[2]));
      parentPort.on('message', () => process.exit(0));
    `, { eval: true });
    try {
      const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
      const p = new WriterPriority({ budgetMs: 20, idleMs: 10 });
      p.attach(tid);
      if (p.state === 'unavailable') {
        // Not allowed to lower a nice value here: the thread must not have been left low.
        assert.ok(niceOf(tid) <= 1, `nice ${niceOf(tid)}`);
        return;
      }
      assert.equal(niceOf(tid), LOW_NICE);
      p.writing();
      await sleep(80);
      assert.equal(niceOf(tid), 0);
      p.idle();
      await sleep(40);
      assert.equal(niceOf(tid), LOW_NICE);
    } finally {
      await worker.terminate();
    }
  });

  it('as an unprivileged user without RLIMIT_NICE: left at normal priority (nice 1 from the probe, never 19)', { skip: !linux && 'no /proc/thread-self (not Linux)' }, (t) => {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    if (!/^Max nice priority\s+0\s/m.test(limits)) {
      t.skip('this process has an RLIMIT_NICE above 0, which user nobody would inherit');
      return;
    }
    const refused = asNobody();
    if (refused.out === undefined) {
      t.skip(refused.why!);
      return;
    }
    assert.equal(refused.out, 'unavailable 1 1');
  });

  it('as an unprivileged user with CAP_SYS_NICE alone: low priority, and normal back for a late write', { skip: !linux && 'no /proc/thread-self (not Linux)' }, (t) => {
    const allowed = asNobody(true);
    if (allowed.out === undefined) {
      t.skip(allowed.why!);
      return;
    }
    assert.equal(allowed.out, `low 0 ${LOW_NICE}`);
  });

  it('the SQLite sink\'s worker runs at low priority once open', { skip: !linux && 'no /proc/thread-self (not Linux)' }, async () => {
    const sink = new SqliteWorkerSink({ path: ':memory:' });
    try {
      await sink.open();
      const p = sink.writerPriority;
      // The thread's ID arrives in its first message, before the reply to open.
      assert.notEqual(p.state, 'unknown');
      const tid = p.kernelThreadId!;
      assert.notEqual(tid, currentThreadId(), 'the worker, not this thread');
      if (p.state === 'unavailable') assert.ok(niceOf(tid) <= 1);
      else assert.equal(niceOf(tid), LOW_NICE);
      assert.equal(niceOf(currentThreadId()!), 0, 'the tracker\'s own thread is untouched');
    } finally {
      await sink.close();
    }
  });
});

describe('the writer priority in the privtrak hook\'s start-up log', () => {
  it('says whether the sink\'s writer thread yields the core, and how to allow it where it cannot', async () => {
    const lines: Array<{ msg: string; sink?: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const sink = new SqliteWorkerSink({ path: ':memory:' });
    const hook = makeHook(sink, {}, undefined, { logger });
    await hook.start();
    try {
      const said = lines.filter((l) => l.msg.startsWith('sink writer thread'));
      assert.equal(said.length, 1, JSON.stringify(lines.map((l) => l.msg)));
      assert.equal(said[0]!.sink, 'sqlite');
      if (sink.writerPriority.state === 'low') assert.match(said[0]!.msg, /low CPU priority \(nice 19/);
      else assert.match(said[0]!.msg, /normal CPU priority.*CAP_SYS_NICE or RLIMIT_NICE/);
    } finally {
      await hook.stop();
      removeHookDirs();
    }
    // A sink without a thread of its own says nothing.
    lines.length = 0;
    const plain = makeHook(new MemorySink(), {}, undefined, { logger });
    await plain.start();
    await plain.stop();
    removeHookDirs();
    assert.deepEqual(lines.filter((l) => l.msg.startsWith('sink writer thread')), []);
  });
});
