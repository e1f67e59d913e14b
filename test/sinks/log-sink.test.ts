import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogSink } from '../../src/sinks/log-sink.js';
import { createSink, sinkOptionsSchema } from '../../src/sinks/index.js';
import { runSinkSuite, delta, USER_A, USER_B, IH2, PEER_2 } from './sink-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'privtrak-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

// Conformance where it applies: totals (read back from the file), idempotent and regrouped
// retries, snatches, 64-bit sums. Not applicable, so not run: the atomic failure (a file append
// is not transactional).
const suiteDir = join(dir, 'suite');
runSinkSuite('log', async () => {
  const sink = new LogSink(join(suiteDir, `deltas-${n++}.ndjson`));
  await sink.open();
  return sink;
}, () => rmSync(suiteDir, { recursive: true, force: true }), { fencing: 'refuses' });

describe('log sink', () => {
  it('writes one JSON line per applied delta, ids in lowercase hex, in exactly this format', async () => {
    const path = join(dir, 'format', 'deltas.ndjson');
    const sink = new LogSink(path);
    await sink.open();
    await sink.apply({ id: 2, instance: 'a', deltas: [
      delta(1, { deltaUp: 5, creditUp: 10, event: 'started', snatch: false, flags: 1, uploaded: 5, downloaded: 7, left: 1024, siteTorrentId: 77 }),
      delta(2, { user: USER_B, infoHash: IH2, peerId: PEER_2, ip: '2001:db8::1', port: 51413, event: 'completed', deltaDown: 3, seedTime: 4, leechTime: 6, snatch: true, flags: 2 }),
    ] });
    assert.equal(readFileSync(path, 'utf8'),
      '{"seq":1,"user":"0123456789abcdef0123456789abcdef","info_hash":"0101010101010101010101010101010101010101",'
      + '"peer_id":"2d7142343532302d616161616161616161616161","ip":"10.0.0.1","port":6881,"event":"started","uploaded":5,'
      + '"downloaded":7,"left":1024,"delta_up":5,"delta_down":0,"credit_up":10,"credit_down":0,"site_torrent_id":77,"seed_time":0,"leech_time":0,"snatch":false,"flags":1,"time_ms":1700000000001}\n'
      + '{"seq":2,"user":"fedcba9876543210fedcba9876543210","info_hash":"f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2",'
      + '"peer_id":"2d5452333030302d626262626262626262626262","ip":"2001:db8::1","port":51413,"event":"completed","uploaded":0,'
      + '"downloaded":0,"left":0,"delta_up":0,"delta_down":3,"credit_up":0,"credit_down":3,"site_torrent_id":null,"seed_time":4,"leech_time":6,"snatch":true,"flags":2,"time_ms":1700000000002}\n');
    // Every line is valid JSON with exactly these keys, in this order.
    for (const line of readFileSync(path, 'utf8').trimEnd().split('\n')) {
      assert.deepEqual(Object.keys(JSON.parse(line)), ['seq', 'user', 'info_hash', 'peer_id', 'ip', 'port', 'event', 'uploaded', 'downloaded',
        'left', 'delta_up', 'delta_down', 'credit_up', 'credit_down', 'site_torrent_id', 'seed_time', 'leech_time', 'snatch', 'flags', 'time_ms']);
    }
  });

  it('keeps its mark in <path>.state and resumes from it', async () => {
    const path = join(dir, 'state', 'deltas.ndjson');
    const sink = new LogSink(path);
    await sink.open();
    await sink.apply({ id: 3, instance: 'a', deltas: [delta(1), delta(2), delta(3)] });
    await sink.apply({ id: 1, instance: 'b', deltas: [delta(1)] });
    await sink.close();
    assert.deepEqual(JSON.parse(readFileSync(`${path}.state`, 'utf8')), { version: 2, marks: { a: 3, b: 1 } });
    const again = new LogSink(path);
    await again.open();
    assert.deepEqual(await again.load('a'), { appliedThrough: 3 });
    await again.apply({ id: 4, instance: 'a', deltas: [delta(2), delta(3), delta(4)] });
    assert.deepEqual(readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).seq), [1, 2, 3, 1, 4]);
    await again.migrate();
  });

  it('reads back no totals before it has written anything', async () => {
    const sink = new LogSink(join(dir, 'empty', 'deltas.ndjson'));
    await sink.open();
    assert.deepEqual(await sink.totals({ byTorrent: false }), []);
    assert.deepEqual(await sink.totals({ user: USER_A, byTorrent: true }), []);
  });

  it('is built by createSink, to a file of its own by default, and refuses stdout', () => {
    assert.deepEqual(sinkOptionsSchema.parse({ name: 'log' }), { name: 'log', path: './data/privtrak-deltas.ndjson' });
    assert.throws(() => sinkOptionsSchema.parse({ name: 'log', path: '-' }), /a file of its own, not stdout/);
    assert.equal(createSink(sinkOptionsSchema.parse({ name: 'log', path: join(dir, 'x.ndjson') })).name, 'log');
    assert.throws(() => sinkOptionsSchema.parse({ name: 'nosuch' }));
  });
});
