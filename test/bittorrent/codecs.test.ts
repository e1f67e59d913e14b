import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../../src/bittorrent/bencode.js';
import { decodeQuery, percentDecode } from '../../src/bittorrent/query.js';
import { identifyClient } from '../../src/bittorrent/client-id.js';
import { parseCounter, parseEvent, requireId, sanitizeNumWant, validatePort } from '../../src/bittorrent/sanitize.js';
import { makePeer, normalizeIp, packIPv6, unpackPeer } from '../../src/bittorrent/ip.js';
import { ClientError } from '../../src/bittorrent/errors.js';
import { httpSamples } from '../support/samples.js';

const code = (c: string) => (e: unknown) => e instanceof ClientError && e.code === c;

describe('bencode', () => {
  it('encodes with sorted keys and binary strings byte for byte', () => {
    const bin = Buffer.from([0, 0xff, 0x80, 0x3a]);
    const out = encode({ z: 1, a: [bin, 'é'], m: { k: -5 } });
    assert.equal(out.toString('latin1'), `d1:al4:${bin.toString('latin1')}2:${Buffer.from('é').toString('latin1')}e1:md1:ki-5ee1:zi1ee`);
    assert.deepEqual(decode(out), { a: [bin, Buffer.from('é')], m: { k: -5 }, z: 1 });
  });

  it('refuses truncated input and non-integers', () => {
    for (const bad of ['d1:a', 'li1e', 'i12', '5:abc', 'x']) assert.throws(() => decode(Buffer.from(bad)), Error, bad);
    assert.throws(() => encode(1.5), /integers/);
  });
});

describe('query decoding', () => {
  const infoHashOf = (requestLine: string) => {
    const query = requestLine.split(' ')[1]!.split('?')[1]!;
    let ih = '';
    let pid = '';
    decodeQuery(query, (k, v) => { if (k === 'info_hash') ih = v; if (k === 'peer_id') pid = v; });
    return { ih: Buffer.from(ih, 'latin1').toString('hex'), pid: Buffer.from(pid, 'latin1') };
  };

  it('decodes the exact info_hash and peer_id bytes of every captured client (lower and upper case escapes, raw bytes)', () => {
    const samples = httpSamples();
    const byClient = (c: string) => samples.filter((s) => s.client === c).map((s) => infoHashOf(s.requestLine));
    for (const s of byClient('Transmission')) {
      assert.equal(s.ih, '91d1ae120d9d8fb67e02686f792e403e56ce7ff3');
      assert.equal(s.pid.toString('latin1'), '-TR3000-w6b9gjg3967a');
    }
    for (const s of byClient('aria2')) {
      assert.equal(s.ih, '91d1ae120d9d8fb67e02686f792e403e56ce7ff3');
      assert.equal(s.pid.toString('hex'), Buffer.concat([Buffer.from('A2-1-36-0-'), Buffer.from([0x5b, 0x8d, 0xd7, 0x16, 0x72, 0x7e, 0xb0, 0xe5, 0xaf, 0x80])]).toString('hex'));
    }
    for (const s of byClient('qBittorrent')) {
      assert.equal(s.ih, '5afae1524e05072ba34fd3e8c6ede4c154c74bc2');
      assert.equal(s.pid.toString('latin1'), '-qB4520-kQyTIjZChReA');
    }
  });

  it('refuses bad percent escapes', () => {
    for (const bad of ['%', '%4', '%zz', 'a%4g', 'abc%']) assert.throws(() => percentDecode(bad), code('BAD_REQUEST'), bad);
  });

  it('skips empty pairs, decodes + as space and keys too', () => {
    const seen: string[] = [];
    decodeQuery('&&a=1&&b&c%3d=x+y&', (k, v) => seen.push(`${k}=${v}`));
    assert.deepEqual(seen, ['a=1', 'b=', 'c==x y']);
  });
});

describe('client identification', () => {
  const id = (s: string) => identifyClient(Buffer.from(s.padEnd(20, 'x'), 'latin1'));
  it('knows Azureus-style ids', () => {
    assert.deepEqual(id('-qB4520-kQyTIjZChReA'), { code: 'qB', name: 'qBittorrent', version: '4.5.2.0', style: 'azureus' });
    assert.equal(id('-TR3000-w6b9gjg3967a')?.name, 'Transmission');
    assert.equal(id('-ZZ1234-')?.name, 'ZZ');
  });
  it('knows Shad0w-style and mainline-style ids', () => {
    assert.deepEqual(id('S58B-----'), { code: 'S', name: 'Shad0w', version: '5.8.11', style: 'shadow' });
    assert.equal(id('T03I--')?.name, 'BitTornado');
    assert.deepEqual(id('A2-1-36-0-'), { code: 'A2', name: 'aria2', version: '1.36.0', style: 'mainline' });
    assert.equal(id('M7-2-3--')?.name, 'BitTorrent (Mainline)');
  });
  it('returns undefined for unknown shapes', () => {
    assert.equal(identifyClient(Buffer.alloc(20)), undefined);
    assert.equal(identifyClient(Buffer.from('short')), undefined);
  });
});

describe('sanitising', () => {
  it('parses counters strictly', () => {
    assert.equal(parseCounter('left', '0', true), 0);
    assert.equal(parseCounter('left', '9007199254740991', true), 9007199254740991);
    for (const bad of ['-1', '1.5', ' 1', '1e3', '0x10']) assert.throws(() => parseCounter('left', bad, true), code('INVALID_NUMBER'), bad);
    assert.throws(() => parseCounter('left', '9007199254740992', true), /out of range/);
    assert.throws(() => parseCounter('left', '99999999999999999', true), /out of range/);
    assert.throws(() => parseCounter('left', undefined, true), code('MISSING_PARAM'));
    assert.equal(parseCounter('left', undefined, false), 0);
  });
  it('applies numwant default and cap, and allows 0', () => {
    const limits = { defaultNumWant: 50, maxNumWant: 100 };
    assert.deepEqual([sanitizeNumWant(undefined, limits), sanitizeNumWant(0, limits), sanitizeNumWant(500, limits), sanitizeNumWant(7, limits)], [50, 0, 100, 7]);
  });
  it('checks ports, events and id lengths', () => {
    assert.equal(validatePort(1), 1);
    assert.equal(validatePort(65535), 65535);
    for (const bad of [0, 65536, -1, 1.5]) assert.throws(() => validatePort(bad), code('INVALID_PORT'));
    assert.deepEqual(['', 'started', 'completed', 'stopped', 'paused'].map(parseEvent), ['none', 'started', 'completed', 'stopped', 'none']);
    assert.throws(() => parseEvent('exploded'), code('INVALID_EVENT'));
    assert.throws(() => requireId('info_hash', 'x'.repeat(19)), code('INVALID_INFO_HASH'));
    assert.throws(() => requireId('info_hash', 'x'.repeat(21)), code('INVALID_INFO_HASH'));
    assert.throws(() => requireId('peer_id', Buffer.alloc(19)), code('INVALID_PEER_ID'));
    assert.throws(() => requireId('peer_id', undefined), code('MISSING_PARAM'));
    assert.equal(requireId('peer_id', '\u00ff'.repeat(20)).toString('hex'), 'ff'.repeat(20));
  });
});

describe('addresses', () => {
  it('packs IPv4 and IPv6 peers and unmaps IPv4-mapped addresses', () => {
    assert.equal(makePeer(Buffer.alloc(20), '192.0.2.1', 6881).compact.toString('hex'), 'c00002011ae1');
    assert.equal(makePeer(Buffer.alloc(20), '::ffff:192.0.2.1', 6881).family, 4);
    assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(packIPv6('::1', 1).toString('hex'), '00000000000000000000000000000001' + '0001');
    assert.equal(packIPv6('2001:db8::ff00:42:8329', 80).toString('hex'), '20010db8000000000000ff0000428329' + '0050');
    assert.equal(packIPv6('64:ff9b::192.0.2.33', 2).toString('hex'), '0064ff9b0000000000000000c0000221' + '0002');
    assert.deepEqual(unpackPeer(packIPv6('2001:db8::1', 9), 0, 6), { ip: '2001:db8:0:0:0:0:0:1', port: 9 });
    assert.deepEqual(unpackPeer(makePeer(Buffer.alloc(20), '10.0.0.7', 80).compact, 0, 4), { ip: '10.0.0.7', port: 80 });
    assert.throws(() => makePeer(Buffer.alloc(20), 'not-an-ip', 1), code('INVALID_IP'));
  });
});
