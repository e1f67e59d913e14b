/**
 * bench/open-loop.c, the open-loop load driver: compiled here and run for a few seconds against tiny
 * in-test servers (node:dgram answering BEP 15, node:http answering bencoded announces), each of which
 * holds ONE announce back for 300 ms. The driver must keep its offered rate, its counts must add up,
 * and the held-back announce must show in its tail: measuring from the scheduled send time, the
 * requests queued behind a stalled connection show the stall too (no coordinated omission).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRequest, encodeAnnounceResponse, encodeConnectResponse } from '../../src/bittorrent/udp-codec.js';
import { decodeQuery } from '../../src/bittorrent/query.js';
import { encode } from '../../src/bittorrent/bencode.js';
import { NO_PEERS } from '../../src/bittorrent/peer-list.js';
import { compileBenchC } from '../support/bench-c.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOURCE = join(ROOT, 'bench', 'open-loop.c');
const STALL_MS = 300;
const STALLED_REQUEST = 100; // the n-th announce a server receives is the one held back
const PASSKEYS = Array.from({ length: 1200 }, (_, i) => (i + 1).toString(16).padStart(32, 'c'));
const PASSKEY_SET = new Set(PASSKEYS);
const PATH = /^\/([0-9a-f]{32})\/announce$/;
const PEER_ID = /^-BE0001-\d{12}$/;

/** What a server saw: announces that parsed as the driver's, and anything that did not. */
interface Seen { announces: number; malformed: string[]; passkeys: Set<string>; connections: number; ihByPeer: Map<number, Set<number>> }
const newSeen = (): Seen => ({ announces: 0, malformed: [], passkeys: new Set(), connections: 0, ihByPeer: new Map() });

/** Notes which pool info_hash (its index) a pool peer (its number) announced. */
function notePair(seen: Seen, peerId: string, ih: Buffer): void {
  const peer = Number(peerId.slice(8));
  let set = seen.ihByPeer.get(peer);
  if (set === undefined) seen.ihByPeer.set(peer, (set = new Set()));
  set.add(ih.readUInt32BE(16));
}

/** The pool's info_hash: 12 zero bytes, beefbeef, a 4-byte index (bench/hashes.mjs). */
function isPoolHash(ih: Buffer): boolean {
  return ih.length === 20 && ih.subarray(0, 12).every((b) => b === 0) && ih.readUInt32BE(12) === 0xbeefbeef;
}

function udpServer(seen: Seen): Promise<{ port: number; close(): void }> {
  const sock = createSocket('udp4');
  const cid = Buffer.from('0123456789abcdef', 'hex');
  sock.on('message', (msg, from) => {
    let req;
    try { req = decodeRequest(msg); } catch (e) { seen.malformed.push(String(e)); return; }
    if (req.action === 0) { sock.send(encodeConnectResponse(req.transactionId, cid), from.port, from.address); return; }
    if (req.action !== 1) { seen.malformed.push(`action ${req.action}`); return; }
    const pk = PATH.exec(req.urlData)?.[1];
    if (!req.connectionId.equals(cid) || !isPoolHash(req.infoHash) || !PEER_ID.test(req.peerId.toString('latin1'))
        || pk === undefined || !PASSKEY_SET.has(pk)) {
      seen.malformed.push(`announce ${req.urlData} ${req.infoHash.toString('hex')}`);
      return;
    }
    seen.passkeys.add(pk);
    notePair(seen, req.peerId.toString('latin1'), req.infoHash);
    const reply = encodeAnnounceResponse(req.transactionId, 1800, 1, 1, NO_PEERS);
    const send = () => sock.send(reply, from.port, from.address);
    if (++seen.announces === STALLED_REQUEST) setTimeout(send, STALL_MS); else send();
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ port: sock.address().port, close: () => sock.close() })));
}

function httpServer(seen: Seen, expectClose: boolean): Promise<{ port: number; close(): void }> {
  const body = encode({ complete: 1, incomplete: 1, interval: 1800, peers: Buffer.alloc(0) });
  const server = createServer((req, res) => {
    const [path = '', query = ''] = (req.url ?? '').split('?');
    const params = new Map<string, string>();
    decodeQuery(query, (k, v) => params.set(k, v));
    const pk = PATH.exec(path)?.[1];
    const ok = pk !== undefined && PASSKEY_SET.has(pk) && isPoolHash(Buffer.from(params.get('info_hash') ?? '', 'latin1'))
      && PEER_ID.test(params.get('peer_id') ?? '') && Number(params.get('port')) > 0 && params.get('compact') === '1'
      && req.httpVersion === '1.1' && (req.headers.connection === 'close') === expectClose;
    if (!ok) { seen.malformed.push(`${req.url} ${JSON.stringify(req.headers)}`); res.writeHead(400).end(); return; }
    seen.passkeys.add(pk!);
    notePair(seen, params.get('peer_id')!, Buffer.from(params.get('info_hash')!, 'latin1'));
    const answer = () => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
    if (++seen.announces === STALLED_REQUEST) setTimeout(answer, STALL_MS); else answer();
  });
  server.on('connection', () => seen.connections++);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ port: typeof a === 'object' && a ? a.port : 0, close: () => { server.closeAllConnections(); server.close(); } });
  }));
}

/** Runs the driver (asynchronously: the servers answer from this process) and parses its final line. */
function drive(bin: string, args: string[]): Promise<{ final: Record<string, number>; lines: string[]; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => { err += d; });
    const guard = setTimeout(() => child.kill('SIGKILL'), 12_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      const lines = out.trim().split('\n');
      const final: Record<string, number> = {};
      for (const kv of (lines.at(-1) ?? '').split(' ')) {
        const [k, v] = kv.split('=');
        if (k && v !== undefined && v !== '' && !Number.isNaN(Number(v))) final[k] = Number(v);
      }
      resolve({ final, lines, stderr: err, code });
    });
  });
}

/** The checks every run must pass: the offered rate kept, and every scheduled request accounted for. */
function assertRateAndCounts(r: Record<string, number>, rate: number, seconds: number, seen: Seen): void {
  assert.ok(Math.abs(r.rate! - rate) <= rate * 0.1, `achieved ${r.rate}/s, offered ${rate}/s`);
  assert.ok(Math.abs(r.scheduled! - rate * seconds) <= rate * seconds * 0.1, `scheduled ${r.scheduled} for ${rate}/s × ${seconds} s`);
  assert.equal(r.scheduled, r.ok! + r.errors! + r.timeouts! + r.dropped!, 'scheduled = ok + errors + timeouts + dropped');
  assert.equal(r.sent, r.ok! + r.errors! + r.timeouts!, 'sent = ok + errors + timeouts (none waited out its timeout unsent)');
  assert.equal(r.errors, r.failed! + r.neterr!);
  assert.deepEqual([r.errors, r.timeouts, r.dropped], [0, 0, 0], 'no errors, timeouts or drops against a server that answers everything');
  assert.equal(seen.announces, r.sent, 'the server received every announce the driver sent');
  assert.deepEqual(seen.malformed, [], 'every announce was well-formed');
  assert.ok(seen.passkeys.size >= 200, `announces spread over the passkey pool (${seen.passkeys.size} distinct)`);
}

test('bench/open-loop.c: keeps its rate and shows a stall in its tail', { timeout: 30_000 }, async (t) => {
  const built = compileBenchC(t, SOURCE, 'the open-loop driver');
  if (built === undefined) return;
  const { bin, dir } = built;
  const passkeys = join(dir, 'passkeys.txt');
  writeFileSync(passkeys, PASSKEYS.join('\n') + '\n');

  const seen = { udp: newSeen(), keepalive: newSeen(), close: newSeen(), poisson: newSeen() };
  const servers = {
    udp: await udpServer(seen.udp), keepalive: await httpServer(seen.keepalive, false),
    close: await httpServer(seen.close, true), poisson: await udpServer(seen.poisson),
  };
  t.after(() => { for (const s of Object.values(servers)) s.close(); });
  const common = ['passkeys', passkeys, 'timeout', '2', 'interval', '1'];
  // All at once (about 3 s in all): each against its own server.
  const [udp, keepalive, close, poisson] = await Promise.all([
    // A small peer pool, so peers announce again: each draws its info_hash at random every time.
    drive(bin, ['udp', '127.0.0.1', String(servers.udp.port), '200', '2.5', 'peer-pool', '300', 'ih-pool', '7', ...common]),
    // One connection: the announces scheduled during the 300 ms stall wait behind it (late starts).
    drive(bin, ['http-keepalive', '127.0.0.1', String(servers.keepalive.port), '200', '2.5', 'conns', '1', ...common]),
    drive(bin, ['http-close', '127.0.0.1', String(servers.close.port), '200', '2.5', 'conns', '16', ...common]),
    // fixed-ih: peer p announces only info_hash (p % 7) + 1, however often it announces.
    drive(bin, ['udp', '127.0.0.1', String(servers.poisson.port), '2000', '2', 'poisson', '7', 'fixed-ih', '1', 'peer-pool', '300', 'ih-pool', '7', ...common]),
  ]);

  await t.test('UDP (BEP 15, BEP 41 passkeys): rate, counts, and the held-back reply in max and p99.9', () => {
    assert.equal(udp.code, 0, udp.stderr);
    assertRateAndCounts(udp.final, 200, 2.5, seen.udp);
    assert.ok(udp.final.max_us! >= 250_000 && udp.final.p999_us! >= 250_000, udp.lines.at(-1));
    assert.ok(udp.final.p50_us! < 100_000, `p50 ${udp.final.p50_us} µs: only one reply was slow`);
    assert.ok(udp.lines.length >= 3, 'one line per 1 s interval, then the final line');
  });

  await t.test('HTTP keep-alive, one connection: the stall holds up the announces behind it, and they show it', () => {
    assert.equal(keepalive.code, 0, keepalive.stderr);
    assertRateAndCounts(keepalive.final, 200, 2.5, seen.keepalive);
    assert.equal(seen.keepalive.connections, 1, 'one persistent connection, no reconnects');
    assert.ok(keepalive.final.max_us! >= 250_000 && keepalive.final.p999_us! >= 250_000, keepalive.lines.at(-1));
    // ~60 announces were due during the 300 ms: each waited for the connection, from its own scheduled
    // time. A closed-loop driver would report one slow request; here p99 (the slowest 5) is near 300 ms.
    assert.ok(keepalive.final.late! >= 40, `late starts ${keepalive.final.late}`);
    assert.ok(keepalive.final.p99_us! >= 200_000, `p99 ${keepalive.final.p99_us} µs`);
    const stallLine = keepalive.lines.slice(0, -1).find((l) => /max_us=(\d+)/.exec(l) && Number(/max_us=(\d+)/.exec(l)![1]) >= 250_000);
    assert.ok(stallLine, 'an interval line shows when the stall happened');
  });

  await t.test('HTTP connection close: one connection per announce, the held-back one in max and p99.9', () => {
    assert.equal(close.code, 0, close.stderr);
    assertRateAndCounts(close.final, 200, 2.5, seen.close);
    assert.equal(seen.close.connections, close.final.sent, 'a new connection for every announce');
    assert.ok(close.final.max_us! >= 250_000 && close.final.p999_us! >= 250_000, close.lines.at(-1));
    assert.ok(close.final.p50_us! < 100_000, `p50 ${close.final.p50_us} µs: only one reply was slow`);
  });

  await t.test('Poisson arrivals keep the mean rate', () => {
    assert.equal(poisson.code, 0, poisson.stderr);
    assertRateAndCounts(poisson.final, 2000, 2, seen.poisson);
  });

  await t.test('fixed-ih bounds the peer/torrent pairs: one info_hash per peer, (p % IH_POOL) + 1; without it peers wander', () => {
    assert.ok(seen.poisson.ihByPeer.size >= 250, `${seen.poisson.ihByPeer.size} peers`);
    for (const [peer, ihs] of seen.poisson.ihByPeer) assert.deepEqual([...ihs], [1 + (peer % 7)], `peer ${peer}`);
    const wandering = [...seen.udp.ihByPeer.values()].filter((ihs) => ihs.size > 1).length;
    assert.ok(wandering > 10, `without fixed-ih, ${wandering} peers announced more than one info_hash`);
  });

  await t.test('refuses a run longer than 600 s, and a non-loopback target', () => {
    const long = spawnSync(bin, ['udp', '127.0.0.1', '9', '100', '601'], { encoding: 'utf8' });
    assert.equal(long.status, 2);
    assert.match(long.stderr, /at most 600/);
    const remote = spawnSync(bin, ['udp', '192.0.2.1', '9', '100', '1'], { encoding: 'utf8' });
    assert.equal(remote.status, 2);
    assert.match(remote.stderr, /loopback/);
  });
});
