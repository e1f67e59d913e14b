import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  UdpDecodeError, decodeRequest, encodeAnnounceRequest, encodeAnnounceResponse, encodeConnectRequest,
  encodeErrorResponse, encodeScrapeRequest, encodeScrapeResponse, type UdpAnnounceRequest,
} from '../../src/bittorrent/udp-codec.js';
import { udpSamples } from '../support/samples.js';
import { makePeer } from '../../src/bittorrent/ip.js';
import { ArrayPeerList } from '../../src/bittorrent/peer-list.js';

const IH = '91d1ae120d9d8fb67e02686f792e403e56ce7ff3';

describe('udp codec: packets captured from real clients', () => {
  const samples = udpSamples();
  const by = (name: string) => samples.find((s) => s.client === name)!;

  it('has the three clients', () => {
    assert.deepEqual(samples.map((s) => s.client), ['Transmission', 'aria2', 'qBittorrent']);
  });

  it('decodes connect requests', () => {
    for (const s of samples) {
      const r = decodeRequest(s.packets[0]!);
      assert.equal(r.action, 0);
      assert.equal(r.transactionId, s.packets[0]!.readUInt32BE(12));
    }
    assert.equal(decodeRequest(by('Transmission').packets[0]!).transactionId, 0xd78a4138);
  });

  it('decodes Transmission 3.00 announces (98 bytes, no URL data)', () => {
    const started = decodeRequest(by('Transmission').packets[1]!) as UdpAnnounceRequest;
    assert.equal(started.action, 1);
    assert.equal(started.connectionId.toString('hex'), '1122334455667788');
    assert.equal(started.transactionId, 0x937eb3fc);
    assert.equal(started.infoHash.toString('hex'), IH);
    assert.equal(started.peerId.toString('latin1'), '-TR3000-i5i64boafl39');
    assert.deepEqual([started.downloaded, started.left, started.uploaded], [0, 0, 0]);
    assert.equal(started.event, 'started');
    assert.equal(started.ip, 0);
    assert.equal(started.key, 0x758b3a3e);
    assert.equal(started.numWant, 80);
    assert.equal(started.port, 51413);
    assert.equal(started.urlData, '');
    const stopped = decodeRequest(by('Transmission').packets[2]!) as UdpAnnounceRequest;
    assert.equal(stopped.event, 'stopped');
    assert.equal(stopped.numWant, 0);
  });

  it('decodes aria2 announces (100 bytes: end-of-options and padding)', () => {
    const r = decodeRequest(by('aria2').packets[1]!) as UdpAnnounceRequest;
    assert.equal(by('aria2').packets[1]!.length, 100);
    assert.equal(r.infoHash.toString('hex'), IH);
    assert.equal(r.peerId.toString('hex'), '41322d312d33362d302db06b22d2705fcd7a1784');
    assert.equal(r.numWant, 50);
    assert.equal(r.port, 0xc92c);
    assert.equal(r.urlData, '');
  });

  it('decodes qBittorrent announces with the passkey in BEP 41 URL data (no end-of-options byte)', () => {
    const pkt = by('qBittorrent').packets[1]!;
    assert.equal(pkt.length, 142);
    const r = decodeRequest(pkt) as UdpAnnounceRequest;
    assert.equal(r.peerId.toString('latin1'), '-qB4520-.cT(-HypVXHU');
    assert.equal(r.numWant, 200);
    assert.equal(r.port, 0xc9f4);
    assert.equal(r.urlData, '/0123456789abcdef0123456789abcdef/announce');
    assert.equal((decodeRequest(by('qBittorrent').packets[2]!) as UdpAnnounceRequest).event, 'stopped');
  });

  it('round-trips announce requests through the encoder', () => {
    for (const s of samples) {
      const r = decodeRequest(s.packets[1]!) as UdpAnnounceRequest;
      const again = decodeRequest(encodeAnnounceRequest(r)) as UdpAnnounceRequest;
      assert.deepEqual({ ...again, connectionId: again.connectionId.toString('hex') }, { ...r, connectionId: r.connectionId.toString('hex') });
    }
  });
});

describe('udp codec: malformed input', () => {
  it('never throws anything but UdpDecodeError, at any length', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const templates = [encodeConnectRequest(1), udpSamples()[2]!.packets[1]!, encodeScrapeRequest(Buffer.alloc(8), 9, [Buffer.alloc(20), Buffer.alloc(20, 1)])];
    for (let len = 0; len <= 200; len++) {
      const random = Buffer.from(Array.from({ length: len }, rand));
      const candidates = [random, ...templates.map((t) => t.subarray(0, len))];
      // Random bytes behind a valid header exercise the announce and scrape paths too.
      if (len >= 16) for (const action of [0, 1, 2, 3, 9]) { const b = Buffer.from(random); b.writeUInt32BE(action, 8); candidates.push(b); }
      for (const pkt of candidates) {
        try {
          decodeRequest(pkt);
        } catch (err) {
          assert.ok(err instanceof UdpDecodeError, `length ${len}: ${String(err)}`);
          assert.equal(err.transactionId, pkt.length >= 16 ? pkt.readUInt32BE(12) : undefined);
        }
      }
    }
  });

  const cases: Array<[string, Buffer, string]> = [
    ['short packet', Buffer.alloc(15), 'MALFORMED_PACKET'],
    ['bad protocol id', Buffer.from('0000041727101981000000000badf00d', 'hex'), 'MALFORMED_PACKET'],
    ['unknown action', (() => { const b = encodeConnectRequest(5); b.writeUInt32BE(7, 8); return b; })(), 'UNKNOWN_ACTION'],
    ['truncated announce', udpSamples()[0]!.packets[1]!.subarray(0, 97), 'MALFORMED_PACKET'],
    ['scrape of 30 bytes', encodeScrapeRequest(Buffer.alloc(8), 1, [Buffer.alloc(20)]).subarray(0, 30), 'MALFORMED_PACKET'],
    ['truncated URL data option', Buffer.concat([udpSamples()[0]!.packets[1]!, Buffer.from([2, 10, 0x2f])]), 'MALFORMED_PACKET'],
    ['event 4', (() => { const b = Buffer.from(udpSamples()[0]!.packets[1]!); b.writeUInt32BE(4, 80); return b; })(), 'INVALID_EVENT'],
    ['negative left', (() => { const b = Buffer.from(udpSamples()[0]!.packets[1]!); b.writeBigInt64BE(-1n, 64); return b; })(), 'INVALID_NUMBER'],
    ['left above 2^53', (() => { const b = Buffer.from(udpSamples()[0]!.packets[1]!); b.writeBigInt64BE(2n ** 60n, 64); return b; })(), 'INVALID_NUMBER'],
  ];
  for (const [name, pkt, code] of cases) {
    it(`refuses ${name} with ${code}`, () => {
      assert.throws(() => decodeRequest(pkt), (e: UdpDecodeError) => e.code === code);
    });
  }

  it('reads each counter exactly over the whole range 0 … 2^53 - 1, and refuses every value outside it', () => {
    const at = { downloaded: 56, left: 64, uploaded: 72 } as const;
    const inRange = [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, 0x1_2345_6789_abcdn, 2n ** 52n + 1n, 2n ** 53n - 2n, 2n ** 53n - 1n];
    const outOfRange = [2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -1n, -(2n ** 32n), -(2n ** 63n)];
    for (const [field, offset] of Object.entries(at)) {
      for (const v of inRange) {
        const b = Buffer.from(udpSamples()[0]!.packets[1]!);
        b.writeBigInt64BE(v, offset);
        const req = decodeRequest(b) as UdpAnnounceRequest;
        assert.equal(req[field as keyof typeof at], Number(v), `${field} = ${v}`);
        assert.ok(Number.isSafeInteger(req[field as keyof typeof at]));
      }
      for (const v of outOfRange) {
        const b = Buffer.from(udpSamples()[0]!.packets[1]!);
        b.writeBigInt64BE(v, offset);
        assert.throws(() => decodeRequest(b), (e: UdpDecodeError) => e.code === 'INVALID_NUMBER' && e.message === `invalid ${field}: out of range`, `${field} = ${v}`);
      }
    }
  });

  it('concatenates several URL data options and skips NOPs and unknown options', () => {
    const base = udpSamples()[0]!.packets[1]!;
    const opts = Buffer.concat([Buffer.from([1, 2, 4]), Buffer.from('/abc'), Buffer.from([9, 1, 0x41, 2, 9]), Buffer.from('/announce'), Buffer.from([0, 2, 3])]);
    assert.equal((decodeRequest(Buffer.concat([base, opts])) as UdpAnnounceRequest).urlData, '/abc/announce');
  });
});

describe('udp codec: responses', () => {
  it('writes announce, scrape and error responses byte for byte', () => {
    const peers = [makePeer(Buffer.alloc(20), '127.0.0.1', 0x1ae1)];
    assert.equal(encodeAnnounceResponse(0xabcdef01, 1800, 3, 4, new ArrayPeerList(peers)).toString('hex'), '00000001abcdef010000070800000003000000047f0000011ae1');
    assert.equal(encodeScrapeResponse(5, [{ counts: { complete: 1, downloaded: 2, incomplete: 3 } }]).toString('hex'), '0000000200000005000000010000000200000003');
    assert.equal(encodeErrorResponse(6, 'no').toString('hex'), '00000003000000066e6f');
  });
});
