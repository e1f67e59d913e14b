import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogSink } from '../../src/sinks/log-sink.js';
import { runSinkSuite, delta } from './sink-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'privtrak-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

// The log sink keeps no baselines and cannot make a failure atomic (see log-sink.ts).
runSinkSuite('log', async () => {
  const sink = new LogSink(join(dir, `deltas-${n++}.ndjson`));
  await sink.open();
  return sink;
}, { baselines: false });

describe('log sink format', () => {
  it('writes one JSON line per applied delta, ids in lowercase hex, and resumes its mark from the state file', async () => {
    const path = join(dir, 'format.ndjson');
    const sink = new LogSink(path);
    await sink.open();
    await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 5, event: 'started', snatch: true, flags: 1 })] });
    assert.equal(readFileSync(path, 'utf8'),
      '{"seq":1,"user":"0123456789abcdef0123456789abcdef","info_hash":"0101010101010101010101010101010101010101",'
      + '"peer_id":"2d7142343532302d616161616161616161616161","ip":"10.0.0.1","port":6881,"event":"started","uploaded":0,'
      + '"downloaded":0,"left":0,"delta_up":5,"delta_down":0,"seed_time":0,"leech_time":0,"snatch":true,"flags":1,"time_ms":1700000000001}\n');
    const again = new LogSink(path);
    await again.open();
    assert.equal((await again.load('a')).appliedThrough, 1);
  });

  it('writes to stdout with "-"', async () => {
    const out: string[] = [];
    const sink = new LogSink('-', (t) => out.push(t));
    await sink.open();
    await sink.apply({ id: 2, instance: 'a', deltas: [delta(1), delta(2)] });
    assert.equal(out.join('').split('\n').filter(Boolean).length, 2);
  });
});
