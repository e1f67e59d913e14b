import { describe, it, before, after } from 'node:test';
import { createSocket } from 'node:dgram';
import assert from 'node:assert/strict';
import { createUdpFrontend } from '../../../src/frontend/udp/server.js';
import { udpSchema } from '../../../src/config/schema.js';
import { ClientError } from '../../../src/bittorrent/errors.js';
import {
  encodeAnnounceRequest, encodeConnectRequest, encodeScrapeRequest, type UdpAnnounceRequest,
} from '../../../src/bittorrent/udp-codec.js';
import type { Frontend } from '../../../src/frontend/frontend.js';
import type { Hook } from '../../../src/middleware/hook.js';
import { pipeline, type Pipeline } from '../../support/harness.js';
import { udpSamples } from '../../support/samples.js';
import { UdpClient } from '../../support/udp-client.js';
import { batchUdpNative } from '../../../src/frontend/udp/batch-socket.js';
import { nativeUnavailableReason } from '../../../src/native/addon.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';
const ROUTES = ['/announce', '/:passkey/announce'];

function announcePacket(connectionId: Buffer, over: Partial<UdpAnnounceRequest> = {}): Buffer {
  return encodeAnnounceRequest({
    connectionId, transactionId: 77, infoHash: Buffer.alloc(20, 0xaa), peerId: Buffer.from('-qB4520-000000000001'),
    downloaded: 0, left: 100, uploaded: 0, event: 'started', ip: 0, key: 1, numWant: -1, port: 6881, urlData: '', ...over,
  });
}

const errorText = (b: Buffer | undefined) => (b && b.readUInt32BE(0) === 3 ? b.toString('utf8', 8) : undefined);

// Every behaviour on both socket layers: the native batched socket (the default where it is built)
// and node:dgram. Without the addon the batch suite is skipped, except in CI (CI=true), where it fails.
const batchMissing = batchUdpNative() === undefined && process.env['CI'] !== 'true';
for (const transport of ['batch', 'dgram'] as const) describe(`udp frontend (${transport})`, { skip: transport === 'batch' && batchMissing ? `the native batched socket is not built (${nativeUnavailableReason()})` : false }, () => {
  let p: Pipeline;
  let fe: Frontend;
  let client: UdpClient;
  const seen: Array<Record<string, string>> = [];
  const spy: Hook = {
    name: 'spy',
    handleAnnounce(ctx) {
      seen.push({ ...ctx.params, ...ctx.query });
      if (ctx.params['passkey'] === 'ffffffffffffffffffffffffffffffff') throw new ClientError('UNAUTHORIZED', 'unknown passkey');
      if (ctx.params['passkey'] === 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee') throw new Error('boom');
    },
    handleScrape() {},
  };

  before(async () => {
    p = pipeline([spy]);
    fe = createUdpFrontend(udpSchema.parse({ transport, addr: '127.0.0.1:0', max_scrape_infohashes: 3, connection_id_lifetime: '2m' }), ROUTES, p.deps);
    await fe.listen();
    client = new UdpClient(fe.port());
  });
  after(async () => {
    client.close();
    await fe.close();
  });

  it('swarms: the second peer gets the first, scrape counts both', async () => {
    const cid = await client.connect();
    const ih = Buffer.alloc(20, 0x01);
    const first = (await client.ask(announcePacket(cid, { infoHash: ih, left: 0, port: 1000 })))!;
    assert.equal(first.readUInt32BE(0), 1);
    assert.equal(first.readUInt32BE(4), 77);
    assert.equal(first.readUInt32BE(8), 1800);
    assert.equal(first.length, 20);
    assert.deepEqual([first.readUInt32BE(12), first.readUInt32BE(16)], [0, 1], 'leechers, seeders: the first seeder counts itself');
    const second = (await client.ask(announcePacket(cid, { infoHash: ih, peerId: Buffer.from('-qB4520-000000000002'), port: 1001 })))!;
    assert.deepEqual([second.readUInt32BE(12), second.readUInt32BE(16)], [1, 1], 'leechers, seeders: the joining leecher counts itself');
    assert.equal(second.subarray(20).toString('hex'), '7f00000103e8');
    const scrape = (await client.ask(encodeScrapeRequest(cid, 5, [ih, Buffer.alloc(20, 0x02)])))!;
    assert.equal(scrape.toString('hex'), '00000002000000050000000100000000000000010000000000000000' + '00000000');
  });

  it('passes the BEP 41 passkey to hooks as a route parameter, like HTTP', async () => {
    const cid = await client.connect();
    seen.length = 0;
    const reply = await client.ask(announcePacket(cid, { urlData: `/${PASSKEY}/announce` }));
    assert.equal(reply!.readUInt32BE(0), 1);
    assert.deepEqual(seen[0], { passkey: PASSKEY });
    seen.length = 0;
    await client.ask(announcePacket(cid, { urlData: '/announce?passkey=abc&x=%41' }));
    assert.deepEqual(seen[0], { passkey: 'abc', x: 'A' });
  });

  it('answers the captured qBittorrent packet (with our connection id) and hands over its passkey', async () => {
    const cid = await client.connect();
    const pkt = Buffer.from(udpSamples().find((s) => s.client === 'qBittorrent')!.packets[1]!);
    cid.copy(pkt, 0);
    seen.length = 0;
    const reply = (await client.ask(pkt))!;
    assert.equal(reply.readUInt32BE(0), 1);
    assert.equal(seen[0]!['passkey'], PASSKEY);
  });

  it('turns hook errors into error packets', async () => {
    const cid = await client.connect();
    assert.equal(errorText(await client.ask(announcePacket(cid, { urlData: '/ffffffffffffffffffffffffffffffff/announce' }))), 'unknown passkey');
    assert.equal(errorText(await client.ask(announcePacket(cid, { urlData: '/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee/announce' }))), 'internal server error');
  });

  it('refuses a wrong or forged connection id', async () => {
    assert.equal(errorText(await client.ask(announcePacket(Buffer.from('1122334455667788', 'hex')))), 'bad connection id');
    const cid = await client.connect();
    const forged = Buffer.from(cid);
    forged[7] ^= 1;
    assert.equal(errorText(await client.ask(announcePacket(forged))), 'bad connection id');
  });

  it('answers malformed packets with an error when a transaction id is there, drops them otherwise, and stays up', async () => {
    const cid = await client.connect();
    // (Sources are unverified until a connection ID checks out: a reply must fit in the request, hence the padding.)
    const unknown = Buffer.concat([encodeConnectRequest(9), Buffer.alloc(16)]);
    unknown.writeUInt32BE(7, 8);
    assert.equal(errorText(await client.ask(unknown)), 'unknown action');
    assert.match(errorText(await client.ask(announcePacket(cid).subarray(0, 60))) ?? '', /malformed packet/);
    assert.match(errorText(await client.ask(announcePacket(cid, { port: 0 }))) ?? '', /invalid port/);
    const many = [1, 2, 3, 4].map((n) => Buffer.alloc(20, n));
    assert.match(errorText(await client.ask(encodeScrapeRequest(cid, 3, many))) ?? '', /too many info_hashes/);
    assert.equal(errorText(await client.ask(Buffer.alloc(4000, 1))), 'packet too large');
    assert.equal(await client.ask(Buffer.alloc(10), 200), undefined, 'no reply without a transaction id');
    for (let len = 0; len <= 200; len++) client.fire(Buffer.alloc(len, len));
    await client.connect();
  });

  it('never sends a source whose connection ID does not check out more bytes than it sent (forged sources)', async () => {
    const cid = await client.connect(); // issued to 127.0.0.1
    // Another address replays that ID, as a forger would: 127.0.0.2 stands for the victim whose address is used.
    const forger = createSocket('udp4');
    await new Promise<void>((resolve) => forger.bind(0, '127.0.0.2', resolve));
    const replies = new Map<number, number>();
    forger.on('message', (m) => { if (m.length >= 8) replies.set(m.readUInt32BE(4), m.length); });
    const sent = new Map<number, number>();
    const send = (pkt: Buffer) => {
      sent.set(pkt.readUInt32BE(12), pkt.length);
      forger.send(pkt, fe.port(), '127.0.0.1');
    };
    try {
      const withheld = async () => (await p.metrics.prometheus.getSingleMetric('privtrak_udp_replies_withheld_total')!.get()).values[0]?.value ?? 0;
      const before = await withheld();
      send(announcePacket(cid, { transactionId: 1 })); // 98 bytes: "bad connection id" (25) fits
      send(encodeScrapeRequest(cid, 2, [])); // 16 bytes: the 25-byte error does not fit
      // Every length from a bare header up, every action (the 4th byte of the action field): transaction id = 1000 + n.
      for (let n = 0; n < 400; n++) {
        const pkt = Buffer.alloc(16 + (n % 100), n & 0xff);
        cid.copy(pkt, 0);
        pkt.writeUInt32BE(n % 4 === 0 ? 7 : n % 4, 8);
        pkt.writeUInt32BE(1000 + n, 12);
        send(pkt);
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(replies.get(1), 25, 'the announce got its error');
      assert.equal(replies.has(2), false, 'the 16-byte scrape got nothing');
      const larger = [...replies].filter(([tid, len]) => len > sent.get(tid)!);
      assert.deepEqual(larger, [], 'replies larger than their request');
      assert.ok(replies.size > 100, `most garbage is still answered within its size (${replies.size} replies)`);
      assert.ok((await withheld()) - before >= 1, 'withheld replies are counted');
    } finally {
      forger.close();
    }
  });

  it('refuses an expired connection id', async () => {
    const p2 = pipeline();
    const fe2 = createUdpFrontend(udpSchema.parse({ transport, addr: '127.0.0.1:0', connection_id_lifetime: '1s', max_clock_skew: '0s' }), ROUTES, p2.deps);
    await fe2.listen();
    const c2 = new UdpClient(fe2.port());
    try {
      const cid = await c2.connect();
      const stale = Buffer.from(cid);
      stale.writeUInt32BE(stale.readUInt32BE(0) - 5, 0);
      assert.equal(errorText(await c2.ask(announcePacket(stale))), 'bad connection id');
      assert.equal((await c2.ask(announcePacket(cid)))!.readUInt32BE(0), 1);
    } finally {
      c2.close();
      await fe2.close();
    }
  });

  it('listens dual-stack by default: IPv4 and IPv6 clients on one socket, each in its own family\'s swarm', async () => {
    assert.equal(udpSchema.parse({}).addr, '[::]:6969', 'the embedded default');
    const pd = pipeline();
    const fed = createUdpFrontend(udpSchema.parse({ transport, addr: '[::]:0' }), ROUTES, pd.deps);
    await fed.listen();
    const c4 = new UdpClient(fed.port(), '127.0.0.1');
    const c6 = new UdpClient(fed.port(), '::1');
    try {
      const ih = Buffer.alloc(20, 0x62);
      const cid4 = await c4.connect();
      const cid6 = await c6.connect();
      await c4.ask(announcePacket(cid4, { infoHash: ih, left: 0, port: 3000 }));
      await c6.ask(announcePacket(cid6, { infoHash: ih, left: 0, port: 3001 }));
      const r4 = (await c4.ask(announcePacket(cid4, { infoHash: ih, peerId: Buffer.from('-qB4520-000000000004'), port: 3002 })))!;
      assert.equal(r4.subarray(20).toString('hex'), '7f000001' + '0bb8', 'the IPv4 client (::ffff:127.0.0.1) is in the IPv4 swarm');
      assert.deepEqual([r4.readUInt32BE(12), r4.readUInt32BE(16)], [1, 2], 'leechers, seeders of both families');
      const r6 = (await c6.ask(announcePacket(cid6, { infoHash: ih, peerId: Buffer.from('-qB4520-000000000006'), port: 3003 })))!;
      assert.equal(r6.length, 20 + 18);
    } finally {
      c4.close();
      c6.close();
      await fed.close();
    }
  });

  it('answers IPv6 clients with 18-byte peers', async () => {
    const p6 = pipeline();
    const fe6 = createUdpFrontend(udpSchema.parse({ transport, addr: '[::1]:0' }), ROUTES, p6.deps);
    await fe6.listen();
    const c6 = new UdpClient(fe6.port(), '::1');
    try {
      const cid = await c6.connect();
      await c6.ask(announcePacket(cid, { left: 0, port: 2000 }));
      const reply = (await c6.ask(announcePacket(cid, { peerId: Buffer.from('-qB4520-000000000009'), port: 2001 })))!;
      assert.equal(reply.length, 20 + 18);
      assert.equal(reply.subarray(20).toString('hex'), '00000000000000000000000000000001' + '07d0');
    } finally {
      c6.close();
      await fe6.close();
    }
  });
});
