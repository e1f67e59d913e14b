import { describe, it, before, after } from 'node:test';
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

const PASSKEY = '0123456789abcdef0123456789abcdef';
const ROUTES = ['/announce', '/:passkey/announce'];

function announcePacket(connectionId: Buffer, over: Partial<UdpAnnounceRequest> = {}): Buffer {
  return encodeAnnounceRequest({
    connectionId, transactionId: 77, infoHash: Buffer.alloc(20, 0xaa), peerId: Buffer.from('-qB4520-000000000001'),
    downloaded: 0, left: 100, uploaded: 0, event: 'started', ip: 0, key: 1, numWant: -1, port: 6881, urlData: '', ...over,
  });
}

const errorText = (b: Buffer | undefined) => (b && b.readUInt32BE(0) === 3 ? b.toString('utf8', 8) : undefined);

describe('udp frontend', () => {
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
    fe = createUdpFrontend(udpSchema.parse({ addr: '127.0.0.1:0', max_scrape_infohashes: 3, connection_id_lifetime: '2m' }), ROUTES, p.deps);
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
    const second = (await client.ask(announcePacket(cid, { infoHash: ih, peerId: Buffer.from('-qB4520-000000000002'), port: 1001 })))!;
    assert.deepEqual([second.readUInt32BE(12), second.readUInt32BE(16)], [0, 1], 'leechers, seeders');
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
    const unknown = encodeConnectRequest(9);
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

  it('refuses an expired connection id', async () => {
    const p2 = pipeline();
    const fe2 = createUdpFrontend(udpSchema.parse({ addr: '127.0.0.1:0', connection_id_lifetime: '1s', max_clock_skew: '0s' }), ROUTES, p2.deps);
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

  it('answers IPv6 clients with 18-byte peers', async () => {
    const p6 = pipeline();
    const fe6 = createUdpFrontend(udpSchema.parse({ addr: '[::1]:0' }), ROUTES, p6.deps);
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
