/**
 * The privtrak hook behind the batched UDP socket: the announces of a batch of datagrams are one
 * commit group, written to the journal at the batch's end (turn-end.ts), and their replies, held
 * until then, still leave with the batch in one sendmmsg. Checked end to end: a burst of BEP 41
 * announces, every reply an announce reply sent with its batch, and every byte in the sink once.
 * In CI (CI=true) a missing addon fails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { SqliteSink } from '../../src/sinks/sqlite-sink.js';
import { batchUdpNative } from '../../src/frontend/udp/batch-socket.js';
import { encodeAnnounceRequest, encodeConnectRequest } from '../../src/bittorrent/udp-codec.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';
const PEERS = 300;
const skip = batchUdpNative() === undefined && process.env['CI'] !== 'true' ? 'the native batched socket is not built' : false;

describe('the privtrak hook over the batched UDP socket', { skip }, () => {
  it('a burst of announces: committed per batch, every reply sent with its batch, every byte counted once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-udp-batch-'));
    const client = createSocket('udp4');
    const replies = new Map<number, Buffer>();
    client.on('message', (m) => { if (m.length >= 8) replies.set(m.readUInt32BE(4), m); });
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const dbPath = join(dir, 'stats.sqlite');
    const tracker = new Tracker(validateConfig({
      metrics_addr: '', log_level: 'silent', http: { addr: '' }, udp: { addr: '127.0.0.1:0', transport: 'batch' },
      prehooks: [{ name: 'privtrak', options: { journal_dir: join(dir, 'journal'), sink: { name: 'sqlite', path: dbPath } } }],
    }), pino({ level: 'silent' }), { defaultMetrics: false });
    await tracker.start();
    try {
      const port = tracker.port('udp');
      const wait = async (n: number, from: number) => {
        for (let t = 0; t < 300 && [...replies.keys()].filter((k) => k >= from && k < from + n).length < n; t++) await new Promise((r) => setTimeout(r, 10));
      };
      client.send(encodeConnectRequest(1), port, '127.0.0.1');
      await wait(1, 1);
      const cid = replies.get(1)!.subarray(8, 16);
      // Two rounds of PEERS announces sent at once: started with nothing uploaded, then 1,000 bytes each.
      for (const [round, uploaded] of [[1, 0], [2, 1000]] as const) {
        for (let i = 0; i < PEERS; i++) {
          client.send(encodeAnnounceRequest({
            connectionId: cid, transactionId: round * 10_000 + i, infoHash: Buffer.alloc(20, 0x5a),
            peerId: Buffer.from(`-qB4520-${String(i).padStart(12, '0')}`), downloaded: 0, left: 0, uploaded,
            event: round === 1 ? 'started' : 'none', ip: 0, key: 1, numWant: 0, port: 10_000 + i, urlData: `/${PASSKEY}/announce`,
          }), port, '127.0.0.1');
        }
        await wait(PEERS, round * 10_000);
        for (let i = 0; i < PEERS; i++) {
          const reply = replies.get(round * 10_000 + i);
          assert.ok(reply, `round ${round}: announce ${i} got no reply`);
          assert.equal(reply.readUInt32BE(0), 1, `round ${round}: announce ${i} got an announce reply, not an error`);
        }
      }
      const text = await tracker.metrics.prometheus.metrics();
      assert.match(text, new RegExp(`^privtrak_udp_replies_sent_total\\{way="batch"\\} ${2 * PEERS + 1}$`, 'm'), 'every reply left with its batch');
      assert.match(text, /^privtrak_udp_replies_sent_total\{way="alone"\} 0$/m, 'none waited for a later turn');
    } finally {
      client.close();
      await tracker.stop();
    }
    try {
      const sink = new SqliteSink({ path: dbPath });
      await sink.open();
      const [row] = await sink.totals({ byTorrent: false });
      await sink.close();
      assert.equal(row?.rawUploaded, BigInt(PEERS * 1000), 'each announce\'s 1,000 bytes counted once');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
