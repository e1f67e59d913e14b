/**
 * The native batched UDP socket (native/udp_batch.c, src/frontend/udp/batch-socket.ts) under what
 * the per-request tests in server.test.ts do not reach: bursts larger than a batch from several
 * clients at once (every reply to the right client, with its transaction id), replies that leave
 * after their batch (an asynchronous hook: sendto) while later datagrams reuse the batch's buffer,
 * bind errors, and which socket layer `udp.transport` picks. In CI (CI=true) a missing addon fails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createUdpFrontend, chooseUdpTransport, UdpFrontend } from '../../../src/frontend/udp/server.js';
import { udpSchema } from '../../../src/config/schema.js';
import { encodeAnnounceRequest, encodeConnectRequest } from '../../../src/bittorrent/udp-codec.js';
import type { Hook } from '../../../src/middleware/hook.js';
import { BatchSocket, batchUdpNative } from '../../../src/frontend/udp/batch-socket.js';
import { pipeline } from '../../support/harness.js';
import { TrackerMetrics } from '../../../src/metrics/metrics.js';
import { atTurnEnd } from '../../../src/turn-end.js';

const ROUTES = ['/announce'];
const native = batchUdpNative();
const skip = native === undefined && process.env['CI'] !== 'true' ? 'the native batched socket is not built' : false;

/** A client socket that collects every reply by transaction id. */
async function collector(): Promise<{ sock: Socket; replies: Map<number, Buffer> }> {
  const sock = createSocket('udp4');
  const replies = new Map<number, Buffer>();
  sock.on('message', (m) => { if (m.length >= 8) replies.set(m.readUInt32BE(4), m); });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { sock, replies };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('udp batched socket', { skip }, () => {
  it('a burst of 600 connects from 4 clients at once: every client gets each of its replies, none astray', async () => {
    const p = pipeline();
    const fe = createUdpFrontend(udpSchema.parse({ addr: '127.0.0.1:0', transport: 'batch' }), ROUTES, p.deps) as UdpFrontend;
    await fe.listen();
    assert.equal(fe.transport, 'batch');
    const clients = await Promise.all([0, 1, 2, 3].map(() => collector()));
    try {
      // Client c sends transaction ids c*1000 + i, i < 150, all without waiting: the socket queues them, and
      // recvmmsg takes them 64 at a time.
      for (let i = 0; i < 150; i++) clients.forEach((c, n) => c.sock.send(encodeConnectRequest(n * 1000 + i), fe.port(), '127.0.0.1'));
      await until(() => clients.every((c) => c.replies.size === 150));
      clients.forEach((c, n) => {
        assert.equal(c.replies.size, 150, `client ${n} got ${c.replies.size} of 150 replies`);
        for (const [tid, reply] of c.replies) {
          assert.equal(Math.floor(tid / 1000), n, `client ${n} got a reply meant for transaction ${tid}`);
          assert.equal(reply.readUInt32BE(0), 0, 'a connect reply');
          assert.equal(reply.length, 16);
        }
      });
      const text = await p.metrics.prometheus.metrics();
      assert.match(text, /^privtrak_udp_replies_dropped_total\{reason="send_buffer_full"\} 0$/m, 'every reply left');
      assert.match(text, /^privtrak_udp_replies_dropped_total\{reason="refused"\} 0$/m);
      assert.match(text, /^privtrak_udp_replies_sent_total\{way="batch"\} 600$/m, 'every reply left with its batch');
      assert.match(text, /^privtrak_udp_replies_sent_total\{way="alone"\} 0$/m);
    } finally {
      clients.forEach((c) => c.sock.close());
      await fe.close();
    }
  });

  it('replies of an asynchronous hook leave after their batch, and the request keeps its own bytes', async () => {
    // The hook answers 30 ms later; meanwhile more datagrams arrive in the buffer the first batch was read into.
    const seen: Array<{ tid: number; ih: string; peer: string }> = [];
    const slow: Hook = {
      name: 'slow',
      handleAnnounce(_ctx, req) {
        return new Promise<void>((resolve) => setTimeout(() => {
          seen.push({ tid: -1, ih: req.infoHash.toString('hex'), peer: req.peer.id.toString('latin1') });
          resolve();
        }, 30));
      },
      handleScrape() {},
    };
    const p = pipeline([slow]);
    const fe = createUdpFrontend(udpSchema.parse({ addr: '127.0.0.1:0', transport: 'batch' }), ROUTES, p.deps);
    await fe.listen();
    const c = await collector();
    try {
      c.sock.send(encodeConnectRequest(1), fe.port(), '127.0.0.1');
      await until(() => c.replies.has(1));
      const cid = c.replies.get(1)!.subarray(8, 16);
      const announce = (i: number) => encodeAnnounceRequest({
        connectionId: cid, transactionId: 100 + i, infoHash: Buffer.alloc(20, i + 1), peerId: Buffer.from(`-qB4520-${String(i).padStart(12, '0')}`),
        downloaded: 0, left: 0, uploaded: 0, event: 'started', ip: 0, key: 1, numWant: 10, port: 7000 + i, urlData: '',
      });
      for (let i = 0; i < 40; i++) {
        c.sock.send(announce(i), fe.port(), '127.0.0.1');
        // Connects in between: other datagrams fill the batch buffer before the hook answers.
        c.sock.send(encodeConnectRequest(500 + i), fe.port(), '127.0.0.1');
      }
      await until(() => [...c.replies.keys()].filter((t) => t >= 100 && t < 140).length === 40);
      for (let i = 0; i < 40; i++) {
        const reply = c.replies.get(100 + i);
        assert.ok(reply, `announce ${i} got no reply`);
        assert.equal(reply.readUInt32BE(0), 1, `announce ${i}: an announce reply`);
        assert.equal(reply.readUInt32BE(16), 1, `announce ${i}: alone in its swarm, as a seeder`);
      }
      assert.deepEqual(new Set(seen.map((s) => `${s.ih.slice(0, 2)} ${s.peer}`)),
        new Set(Array.from({ length: 40 }, (_, i) => `${(i + 1).toString(16).padStart(2, '0')} -qB4520-${String(i).padStart(12, '0')}`)),
        'each request still had its own info_hash and peer_id when the hook ran');
      for (let i = 0; i < 40; i++) {
        const swarm = await p.store.scrapeSwarm(Buffer.alloc(20, i + 1));
        assert.equal(swarm.complete, 1, `swarm ${i} holds its peer`);
      }
    } finally {
      c.sock.close();
      await fe.close();
    }
  });

  it('replies sent from microtasks of the batch, and after work at the turn\'s end, leave with it; later ones leave alone', async () => {
    // Kind 1 answers at once; 2 from a microtask; 3 once work queued with atTurnEnd has run (what the
    // privtrak hook's commit group does); 4 from a timer, after its batch.
    let turn: Promise<void> | undefined;
    const endOfTurn = () => (turn ??= new Promise<void>((resolve) => atTurnEnd(() => {
      turn = undefined;
      resolve();
    })));
    const s: BatchSocket = new BatchSocket(native!, '127.0.0.1', 0, { bufferSize: 1 << 20, maxDatagram: 100 }, (msg, from) => {
      const reply = Buffer.from(msg);
      const kind = msg[0];
      if (kind === 1) s.send(reply, from);
      else if (kind === 2) void Promise.resolve().then(() => s.send(reply, from));
      else if (kind === 3) void endOfTurn().then(() => s.send(reply, from));
      else setTimeout(() => s.send(reply, from), 5);
    });
    const c = await collector();
    try {
      const port = s.address().port;
      // 50 of each kind, interleaved, sent at once: about 64 to a batch.
      for (let i = 0; i < 200; i++) {
        const m = Buffer.alloc(8);
        m[0] = (i % 4) + 1;
        m.writeUInt32BE(i, 4);
        c.sock.send(m, port, '127.0.0.1');
      }
      await until(() => c.replies.size === 200);
      assert.equal(c.replies.size, 200, 'every datagram answered');
      for (const [i, reply] of c.replies) assert.equal(reply[0], (i % 4) + 1, `datagram ${i} got its own reply`);
      const { reads, pauses, ...replies } = s.stats();
      assert.deepEqual(replies, { dropped: 0, refused: 0, batched: 150, alone: 50 });
      assert.ok(reads >= 4 && reads <= 200, `${reads} reads`);
      assert.equal(pauses, 0, 'no coalescing unless asked for');
    } finally {
      c.sock.close();
      s.close();
    }
  });

  it('udp.coalesce_us: while datagrams keep coming, a read of fewer than 16 that emptied the socket waits for more; the loop runs on meanwhile; an idle socket answers at once', async () => {
    // A pause far longer than a test's scheduling noise (500 ms, beyond what the config allows), so
    // which datagrams share a read is certain even on a loaded machine.
    const s: BatchSocket = new BatchSocket(native!, '127.0.0.1', 0, { bufferSize: 1 << 20, maxDatagram: 100, coalesceUs: 500_000 },
      (msg, from) => s.send(Buffer.from(msg), from));
    const c = await collector();
    const send = (tid: number) => c.sock.send(Buffer.from([0, 0, 0, 0, tid >>> 24, (tid >>> 16) & 255, (tid >>> 8) & 255, tid & 255]), s.address().port, '127.0.0.1');
    const reads = () => {
      const { reads: all, pauses } = s.stats();
      return { pause: pauses, none: all - pauses };
    };
    try {
      // 1. An idle socket: read at once, no pause after it.
      let t0 = performance.now();
      const first = new Promise((r) => c.sock.once('message', r));
      send(1);
      await first;
      assert.ok(performance.now() - t0 < 400, 'an idle socket answers without waiting a pause');
      // 2. A datagram as soon as that reply came: the socket is busy, so this read is followed by a pause.
      const second = new Promise((r) => c.sock.once('message', r));
      send(2);
      await second;
      assert.deepEqual(reads(), { pause: 1, none: 1 });
      // 3. Ten datagrams 2 ms apart during that pause: without it each would be read on its own.
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      t0 = performance.now();
      const answered = (from: number, n: number) => [...c.replies.keys()].filter((t) => t >= from && t < from + n).length;
      for (let i = 0; i < 10; i++) {
        send(100 + i);
        await new Promise((r) => setTimeout(r, 2));
      }
      await until(() => answered(100, 10) === 10);
      clearInterval(ticker);
      assert.equal(answered(100, 10), 10, 'all 10 answered');
      assert.deepEqual(reads(), { pause: 2, none: 1 }, 'the 10 came in one read, itself followed by a pause');
      assert.ok(ticks >= 10, `timers ran during the pause (${ticks} ticks of 10 ms in ${Math.round(performance.now() - t0)} ms)`);
      // 4. Twenty at once during the next pause: one read of 20, and a read of 16 or more is not followed by a pause.
      for (let i = 0; i < 20; i++) send(200 + i);
      await until(() => answered(200, 20) === 20);
      assert.deepEqual(reads(), { pause: 2, none: 2 }, 'the 20 came in one read, not followed by a pause');
      // 5. Idle again: nothing for longer than a pause since the socket was last ready. Read at once.
      await new Promise((r) => setTimeout(r, 1100));
      t0 = performance.now();
      send(3);
      await until(() => c.replies.has(3));
      assert.ok(performance.now() - t0 < 400, 'idle again: no wait');
      assert.deepEqual(reads(), { pause: 2, none: 3 });
      assert.equal(s.stats().batched, 33, 'every reply left with its batch');
    } finally {
      c.sock.close();
      s.close();
    }
  });

  it('udp.coalesce_us reaches the frontend\'s socket, and privtrak_udp_reads_total counts its pauses', async () => {
    const p = pipeline();
    const fe = createUdpFrontend(udpSchema.parse({ addr: '127.0.0.1:0', transport: 'batch', coalesce_us: 10_000 }), ROUTES, p.deps) as UdpFrontend;
    await fe.listen();
    const c = await collector();
    try {
      // Ping-pong: each connect is sent as soon as the last reply came, well within 10 ms of the socket being ready.
      for (let i = 0; i < 20; i++) {
        const answered = new Promise((r) => c.sock.once('message', r));
        c.sock.send(encodeConnectRequest(i), fe.port(), '127.0.0.1');
        await answered;
      }
      assert.equal(c.replies.size, 20);
      const text = await p.metrics.prometheus.metrics();
      const n = (after: string) => Number(new RegExp(`^privtrak_udp_reads_total\\{after="${after}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      assert.equal(n('pause') + n('none'), 20, 'one read per connect');
      assert.ok(n('pause') >= 10, `${n('pause')} of 20 reads followed by a pause`);
    } finally {
      c.sock.close();
      await fe.close();
    }
    // The default: 200 µs (config.example.yaml says why).
    assert.equal(udpSchema.parse({}).coalesce_us, 200);
  });

  it('udp.coalesce_us: closing the socket during a pause', async () => {
    let got = 0;
    const s: BatchSocket = new BatchSocket(native!, '127.0.0.1', 0, { bufferSize: 1 << 20, maxDatagram: 100, coalesceUs: 100_000 }, (msg, from) => {
      got++;
      s.send(Buffer.from(msg), from);
    });
    const c = await collector();
    const port = s.address().port;
    try {
      const m = (i: number) => Buffer.from([0, 0, 0, 0, 0, 0, 0, i]);
      c.sock.send(m(1), port, '127.0.0.1');
      await until(() => c.replies.has(1));
      c.sock.send(m(2), port, '127.0.0.1');
      await until(() => c.replies.has(2));
      assert.equal(s.stats().pauses, 1, 'paused after the second read');
      c.sock.send(m(3), port, '127.0.0.1'); // waits in the socket
      await new Promise((r) => setTimeout(r, 20));
      s.close();
      await new Promise((r) => setTimeout(r, 200)); // past the pause's end: nothing is read, nothing runs
      assert.equal(got, 2);
      assert.equal(c.replies.has(3), false);
    } finally {
      c.sock.close();
      s.close();
    }
  });

  it('a datagram larger than the largest request reaches the handler cut to that size plus one byte', async () => {
    const got: number[] = [];
    const s = new BatchSocket(native!, '127.0.0.1', 0, { bufferSize: 1 << 20, maxDatagram: 100 }, (msg) => got.push(msg.length));
    const c = await collector();
    try {
      for (const n of [1, 100, 101, 3000]) c.sock.send(Buffer.alloc(n, 7), s.address().port, '127.0.0.1');
      await until(() => got.length === 4);
      assert.deepEqual(got, [1, 100, 101, 101]);
      const { reads, ...rest } = s.stats();
      assert.deepEqual(rest, { dropped: 0, refused: 0, batched: 0, alone: 0, pauses: 0 });
      assert.ok(reads >= 1 && reads <= 4);
    } finally {
      c.sock.close();
      s.close();
      s.close(); // twice: a no-op
    }
  });

  it('binding a port in use fails as dgram does, with its code', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    try {
      assert.throws(() => new BatchSocket(native!, '127.0.0.1', taken.address().port, { bufferSize: 65536, maxDatagram: 100 }, () => {}),
        (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE' && /bind/.test(err.message));
      assert.throws(() => new BatchSocket(native!, 'localhost', 0, { bufferSize: 65536, maxDatagram: 100 }, () => {}),
        (err: NodeJS.ErrnoException) => err.code === 'EINVAL', 'a host name is not an address');
    } finally {
      taken.close();
    }
  });
});

describe('privtrak_udp_replies_dropped_total and privtrak_udp_replies_sent_total', () => {
  it('read the socket\'s counts at scrape time, by reason and by way', async () => {
    const m = new TrackerMetrics({ defaultMetrics: false });
    let counts = { dropped: 3, refused: 1, batched: 70, alone: 2, reads: 40, pauses: 15 };
    m.udpSocket(() => counts);
    let text = await m.prometheus.metrics();
    assert.match(text, /privtrak_udp_replies_dropped_total\{reason="send_buffer_full"\} 3\n.*\{reason="refused"\} 1$/m);
    assert.match(text, /privtrak_udp_replies_sent_total\{way="batch"\} 70\n.*\{way="alone"\} 2$/m);
    assert.match(text, /privtrak_udp_reads_total\{after="pause"\} 15\n.*\{after="none"\} 25$/m);
    counts = { dropped: 5, refused: 1, batched: 90, alone: 2, reads: 50, pauses: 20 };
    text = await m.prometheus.metrics();
    assert.match(text, /privtrak_udp_replies_dropped_total\{reason="send_buffer_full"\} 5$/m);
    assert.match(text, /privtrak_udp_replies_sent_total\{way="batch"\} 90$/m);
    assert.match(text, /privtrak_udp_reads_total\{after="pause"\} 20\n.*\{after="none"\} 30$/m);
  });
});

describe('udp.transport', () => {
  it('auto: the batched socket where the addon has it, dgram in a --workers worker or without the addon', () => {
    assert.equal(udpSchema.parse({}).transport, 'auto', 'the default');
    assert.equal(chooseUdpTransport('auto', true, false), 'batch');
    assert.equal(chooseUdpTransport('auto', false, false), 'dgram');
    assert.equal(chooseUdpTransport('auto', true, true), 'dgram');
    assert.equal(chooseUdpTransport('dgram', true, false), 'dgram');
    assert.equal(chooseUdpTransport('batch', true, false), 'batch');
  });

  it('batch: refused with a reason where it cannot work', () => {
    assert.throws(() => chooseUdpTransport('batch', false, false), /udp\.transport: batch needs the native addon/);
    assert.throws(() => chooseUdpTransport('batch', true, true), /udp\.transport: batch cannot be used with --workers/);
    assert.throws(() => udpSchema.parse({ transport: 'uring' }), /Invalid enum value/);
  });

  it('coalesce_us: whole microseconds from 0 to 10,000', () => {
    assert.equal(udpSchema.parse({ coalesce_us: 10_000 }).coalesce_us, 10_000);
    for (const bad of [-1, 10_001, 2.5, '200']) assert.throws(() => udpSchema.parse({ coalesce_us: bad }), `coalesce_us: ${bad}`);
  });
});
