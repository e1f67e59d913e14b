import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createHttpFrontend, type HttpFrontend } from '../../../src/frontend/http/server.js';
import { httpSchema } from '../../../src/config/schema.js';
import { decode } from '../../../src/bittorrent/bencode.js';
import { ClientError } from '../../../src/bittorrent/errors.js';
import type { Hook } from '../../../src/middleware/hook.js';
import type { Peer } from '../../../src/bittorrent/types.js';
import { makePeer } from '../../../src/bittorrent/ip.js';
import type { Frontend } from '../../../src/frontend/frontend.js';
import { pipeline, type Pipeline } from '../../support/harness.js';
import { escapeBytes, get, parseReply, rawRequest } from '../../support/http-client.js';
import { httpSamples } from '../../support/samples.js';

const IH = Buffer.from('91d1ae120d9d8fb67e02686f792e403e56ce7ff3', 'hex');
const PASSKEY = '0123456789abcdef0123456789abcdef';

function peerFor(n: number): Peer {
  return makePeer(peerId(n), `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, 1024 + n);
}

function peerId(n: number): Buffer {
  return Buffer.from(`-PT0001-${String(n).padStart(12, '0')}`, 'latin1');
}

function announce(opts: { ih?: Buffer; id?: Buffer; port?: number | string; left?: number | string; event?: string; extra?: string; path?: string } = {}): string {
  const q = [
    `info_hash=${escapeBytes(opts.ih ?? IH)}`,
    `peer_id=${escapeBytes(opts.id ?? peerId(1))}`,
    `port=${opts.port ?? 6881}`,
    'uploaded=0', 'downloaded=0', `left=${opts.left ?? 100}`,
  ];
  if (opts.event) q.push(`event=${opts.event}`);
  if (opts.extra) q.push(opts.extra);
  return `${opts.path ?? '/announce'}?${q.join('&')}`;
}

type Dict = Record<string, unknown>;
const dict = (body: Buffer) => decode(body) as unknown as Dict;
const failure = (body: Buffer) => (dict(body)['failure reason'] as Buffer | undefined)?.toString();

/** Records what hooks saw, to prove route params and query values reach them. */
function spyHook(seen: Array<Record<string, string>>): Hook {
  return {
    name: 'spy',
    handleAnnounce(ctx) {
      seen.push({ ...ctx.params, ...Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [`q.${k}`, v])) });
      if (ctx.params['passkey'] === 'refuse') throw new ClientError('UNAUTHORIZED', 'unknown passkey');
      if (ctx.params['passkey'] === 'crash') throw new Error('database exploded');
      if (ctx.params['passkey'] === 'slow') return new Promise((r) => setTimeout(r, 20));
    },
    handleScrape() {},
  };
}

// Every test runs on both TCP layers: raw libuv handles (the default) and node:net.
let transport: 'raw' | 'net' = 'raw';

async function start(p: Pipeline, overrides: Record<string, unknown> = {}): Promise<Frontend> {
  // Public and passkey routes, so both shapes are exercised (the shipped default is passkey-only).
  // Keep-alive off unless a test asks for it (the shipped default is on): these tests read one reply per connection.
  const cfg = httpSchema.parse({
    addr: '127.0.0.1:0', announce_routes: ['/announce', '/:passkey/announce'], scrape_routes: ['/scrape', '/:passkey/scrape'], transport, keep_alive: false, ...overrides,
  });
  const fe = createHttpFrontend(cfg, p.deps);
  await fe.listen();
  return fe;
}

for (const layer of ['raw', 'net'] as const) {
describe(`http frontend (${layer})`, () => {
  before(() => { transport = layer; });
  let p: Pipeline;
  let fe: Frontend;
  const seen: Array<Record<string, string>> = [];

  before(async () => {
    p = pipeline([spyHook(seen)]);
    fe = await start(p, { max_scrape_infohashes: 3 });
  });
  after(() => fe.close());

  it('answers a compact announce and lists the earlier peer, never the requester', async () => {
    const ih = Buffer.alloc(20, 1);
    const first = await get(fe.port(), announce({ ih, id: peerId(10), port: 5000, left: 0, event: 'started' }));
    assert.equal(first.status, 200);
    assert.equal(first.headers['connection'], 'close');
    const d1 = dict(first.body);
    assert.equal(d1['interval'], 1800);
    assert.equal(d1['min interval'], 900);
    assert.deepEqual(d1['peers'], Buffer.alloc(0));
    // Counts include the announcer (as opentracker, Ocelot and UNIT3D-Announce answer): the first seeder is a seeder.
    assert.deepEqual([d1['complete'], d1['incomplete']], [1, 0]);
    const second = await get(fe.port(), announce({ ih, id: peerId(11), port: 5001, left: 10, event: 'started' }));
    const d2 = dict(second.body);
    assert.deepEqual(d2['peers'], Buffer.from([127, 0, 0, 1, 0x13, 0x88]));
    assert.equal(d2['complete'], 1);
    assert.equal(d2['incomplete'], 1, 'the joining leecher counts itself');
    const third = dict((await get(fe.port(), announce({ ih, id: peerId(10), port: 5000, left: 0 }))).body);
    // The seeder is given the leecher only, and counts now include both.
    assert.deepEqual(third['peers'], Buffer.from([127, 0, 0, 1, 0x13, 0x89]));
    assert.equal(third['complete'], 1);
    assert.equal(third['incomplete'], 1);
  });

  it('writes the dictionary model when compact=0, with and without peer ids', async () => {
    const ih = Buffer.alloc(20, 2);
    await get(fe.port(), announce({ ih, id: peerId(20), port: 6000, left: 0 }));
    const withIds = dict((await get(fe.port(), announce({ ih, id: peerId(21), extra: 'compact=0' }))).body);
    const peers = withIds['peers'] as Dict[];
    assert.equal(peers.length, 1);
    assert.equal((peers[0]!['ip'] as Buffer).toString(), '127.0.0.1');
    assert.equal(peers[0]!['port'], 6000);
    assert.deepEqual(peers[0]!['peer id'], peerId(20));
    const noIds = dict((await get(fe.port(), announce({ ih, id: peerId(21), extra: 'compact=0&no_peer_id=1' }))).body);
    assert.equal((noIds['peers'] as Dict[])[0]!['peer id'], undefined);
  });

  it('hands route parameters and unknown query values to the hooks', async () => {
    seen.length = 0;
    await get(fe.port(), announce({ path: `/${PASSKEY}/announce`, extra: 'key=abc' }));
    assert.deepEqual(seen[0], { passkey: PASSKEY, 'q.key': 'abc' });
  });

  it('turns a hook ClientError into the failure reason, and other errors into "internal server error"', async () => {
    const refused = await get(fe.port(), announce({ path: '/refuse/announce' }));
    assert.equal(refused.status, 200);
    assert.equal(failure(refused.body), 'unknown passkey');
    const crashed = await get(fe.port(), announce({ path: '/crash/announce' }));
    assert.equal(failure(crashed.body), 'internal server error');
    const slow = await get(fe.port(), announce({ path: '/slow/announce' }));
    assert.equal(failure(slow.body), undefined);
    assert.equal(dict(slow.body)['interval'], 1800);
  });

  it('parses every captured real-client announce and answers it', async () => {
    const samples = httpSamples();
    assert.ok(samples.length >= 6, `expected 6 samples, got ${samples.length}`);
    for (const s of samples) {
      seen.length = 0;
      const reply = parseReply(await rawRequest(fe.port(), s.raw));
      assert.equal(reply.status, 200, s.client);
      assert.equal(failure(reply.body), undefined, `${s.client}: ${reply.body.toString('latin1')}`);
      assert.equal(seen[0]?.['passkey'], PASSKEY, s.client);
    }
    // qBittorrent's ipv4= is ignored with spoofing off: the peer is on 127.0.0.1, not 192.0.2.2.
    const qbHash = Buffer.from('5afae1524e05072ba34fd3e8c6ede4c154c74bc2', 'hex');
    const counts = p.store.scrapeSwarm(qbHash);
    assert.equal(counts.complete, 0, 'the stopped announce removed the qBittorrent seeder');
  });

  it('scrapes one or many info_hashes and refuses too many', async () => {
    const a = Buffer.alloc(20, 0x31);
    const b = Buffer.alloc(20, 0x32);
    await get(fe.port(), announce({ ih: a, id: peerId(30), left: 0 }));
    await get(fe.port(), announce({ ih: a, id: peerId(31), left: 5 }));
    await get(fe.port(), announce({ ih: a, id: peerId(31), left: 0, event: 'completed' }));
    const reply = await get(fe.port(), `/scrape?info_hash=${escapeBytes(a)}&info_hash=${escapeBytes(b)}`);
    const files = dict(reply.body)['files'] as Record<string, Dict>;
    assert.deepEqual(files[a.toString('latin1')], { complete: 2, downloaded: 1, incomplete: 0 });
    assert.deepEqual(files[b.toString('latin1')], { complete: 0, downloaded: 0, incomplete: 0 });
    const many = [1, 2, 3, 4].map((n) => `info_hash=${escapeBytes(Buffer.alloc(20, n))}`).join('&');
    assert.match(failure((await get(fe.port(), `/scrape?${many}`)).body) ?? '', /too many info_hashes/);
    assert.equal(failure((await get(fe.port(), `/${PASSKEY}/scrape?info_hash=${escapeBytes(a)}`)).body), undefined);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['missing info_hash', '/announce?peer_id=-PT0001-000000000001&port=1&uploaded=0&downloaded=0&left=0', /missing info_hash/],
    ['19-byte info_hash', announce({ ih: Buffer.alloc(19, 7) }), /invalid info_hash/],
    ['21-byte info_hash', announce({ ih: Buffer.alloc(21, 7) }), /invalid info_hash/],
    ['19-byte peer_id', announce({ id: Buffer.alloc(19, 7) }), /invalid peer_id/],
    ['21-byte peer_id', announce({ id: Buffer.alloc(21, 7) }), /invalid peer_id/],
    ['bad percent escape', '/announce?info_hash=%zz&peer_id=x', /invalid percent-encoding/],
    ['truncated escape', `${announce()}&key=%4`, /invalid percent-encoding/],
    ['port 0', announce({ port: 0 }), /invalid port/],
    ['port 65536', announce({ port: 65536 }), /invalid port/],
    ['missing port', '/announce?info_hash=' + escapeBytes(IH) + '&peer_id=' + escapeBytes(peerId(1)) + '&uploaded=0&downloaded=0&left=0', /missing port/],
    ['unknown event', announce({ event: 'exploded' }), /invalid event/],
    ['negative left', announce({ left: '-1' }), /invalid left/],
    ['huge left', announce({ left: '18446744073709551615' }), /invalid left: out of range/],
    ['negative uploaded', announce().replace('uploaded=0', 'uploaded=-5'), /invalid uploaded/],
    ['huge uploaded', announce().replace('uploaded=0', 'uploaded=99999999999999999'), /invalid uploaded/],
    ['negative numwant', `${announce()}&numwant=-1`, /invalid numwant/],
    ['huge numwant', `${announce()}&numwant=99999999999`, /invalid numwant/],
    ['scrape without info_hash', '/scrape', /missing info_hash/],
  ];
  for (const [name, target, reason] of bad) {
    it(`refuses ${name} with a failure reason`, async () => {
      const reply = await get(fe.port(), target);
      assert.equal(reply.status, 200);
      assert.match(failure(reply.body) ?? '<none>', reason);
    });
  }

  it('caps numwant at max_numwant and allows numwant=0', async () => {
    const ih = Buffer.alloc(20, 0x40);
    for (let i = 0; i < 120; i++) await get(fe.port(), announce({ ih, id: peerId(1000 + i), port: 2000 + i, left: 0 }));
    const capped = dict((await get(fe.port(), `${announce({ ih, id: peerId(5000) })}&numwant=500`)).body);
    assert.equal((capped['peers'] as Buffer).length, 100 * 6);
    const dflt = dict((await get(fe.port(), announce({ ih, id: peerId(5000) }))).body);
    assert.equal((dflt['peers'] as Buffer).length, 50 * 6);
    const none = dict((await get(fe.port(), `${announce({ ih, id: peerId(5000) })}&numwant=0`)).body);
    assert.equal((none['peers'] as Buffer).length, 0);
    assert.equal(none['complete'], 120);
  });

  it('answers 404 for unknown paths and 405 for other methods', async () => {
    assert.equal((await get(fe.port(), '/nope')).status, 404);
    const post = parseReply(await rawRequest(fe.port(), 'POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(post.status, 405);
  });

  it('refuses an oversized request and a garbage request line, and stays up', async () => {
    const huge = parseReply(await rawRequest(fe.port(), `GET /announce?${'a'.repeat(20000)} HTTP/1.1\r\n\r\n`));
    assert.equal(huge.status, 431);
    const endless = await rawRequest(fe.port(), `GET /announce?${'b'.repeat(9000)}`);
    assert.equal(parseReply(endless).status, 431);
    const garbage = parseReply(await rawRequest(fe.port(), '\x00\x01\x02 nonsense\r\n\r\n'));
    assert.equal(garbage.status, 400);
    assert.equal((await get(fe.port(), announce())).status, 200);
  });

  it('closes after answering "Connection: close" (FIN once the reply is written), and cuts off a client that never closes its side', async () => {
    const p2 = pipeline();
    const fe2 = await start(p2, { read_timeout: '300ms' });
    const open = async () => (await p2.metrics.prometheus.getSingleMetric('privtrak_http_connections')!.get()).values[0]!.value;
    try {
      // A client that reads to the end of the stream (HTTP/1.0 style) and keeps its own side open.
      const s = connect({ port: fe2.port(), host: '127.0.0.1', allowHalfOpen: true });
      await once(s, 'connect');
      const began = Date.now();
      const chunks: Buffer[] = [];
      s.on('data', (c) => chunks.push(c));
      s.write(`GET ${announce()} HTTP/1.1\r\n\r\n`);
      await once(s, 'end');
      const endedAfter = Date.now() - began;
      const reply = parseReply(Buffer.concat(chunks));
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['connection'], 'close');
      assert.ok(endedAfter < 200, `the stream ended ${endedAfter} ms after the request: the server sent FIN with the reply`);
      assert.equal(await open(), 1, 'the handle stays until the client closes its side (closing it first could reset the reply)');
      // The client never closes: the sweep cuts it off after read_timeout.
      const deadline = Date.now() + 2500;
      while ((await open()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const cutAfter = Date.now() - began;
      assert.equal(await open(), 0, 'cut off');
      assert.ok(cutAfter >= 250, `cut off after ${cutAfter} ms, not before read_timeout`);
      s.destroy();
      // HTTP/1.0 without keep-alive gets the same.
      const reply10 = await rawRequest(fe2.port(), `GET ${announce()} HTTP/1.0\r\n\r\n`);
      assert.equal(parseReply(reply10).status, 200);
    } finally {
      await fe2.close();
    }
  });

  it(`runs on the ${layer} TCP layer`, () => {
    assert.equal((fe as HttpFrontend).transport, layer);
  });

  it('closes connections beyond max_connections at once and keeps serving the others', async () => {
    const p2 = pipeline();
    const fe2 = await start(p2, { max_connections: 2 });
    const open: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = connect({ port: fe2.port(), host: '127.0.0.1' });
        await once(s, 'connect');
        open.push(s);
      }
      await new Promise((r) => setTimeout(r, 50)); // let the server accept both
      const third = connect({ port: fe2.port(), host: '127.0.0.1' });
      third.on('error', () => undefined);
      const closedWithin = await Promise.race([once(third, 'close').then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
      assert.equal(closedWithin, true, 'the third connection is closed by the server');
      const refused = (await p2.metrics.prometheus.getSingleMetric('privtrak_http_connections_refused_total')!.get()).values;
      assert.equal(refused.find((v) => v.labels['reason'] === 'max_connections')?.value, 1, 'counted');
      open[0]!.write(`GET ${announce()} HTTP/1.1\r\n\r\n`);
      const [reply] = await once(open[0]!, 'data') as [Buffer];
      assert.equal(parseReply(reply).status, 200);
    } finally {
      for (const s of open) s.destroy();
      await fe2.close();
    }
  });

  it('limits open connections per client address when max_connections_per_ip is set, counting the refusals', async () => {
    const p2 = pipeline();
    const fe2 = await start(p2, { max_connections_per_ip: 2 });
    const open: Socket[] = [];
    const refused = async (reason: string) => (await p2.metrics.prometheus.getSingleMetric('privtrak_http_connections_refused_total')!.get())
      .values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
    const connectFrom = async (localAddress: string) => {
      const s = connect({ port: fe2.port(), host: '127.0.0.1', localAddress });
      s.on('error', () => undefined);
      await once(s, 'connect');
      open.push(s);
      return s;
    };
    const closedSoon = (s: Socket) => Promise.race([once(s, 'close').then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]);
    try {
      await connectFrom('127.0.0.1');
      await connectFrom('127.0.0.1');
      const third = await connectFrom('127.0.0.1');
      assert.equal(await closedSoon(third), true, 'a third connection from the same address is closed');
      assert.equal(await refused('per_ip'), 1);
      const elsewhere = await connectFrom('127.0.0.2');
      elsewhere.write(`GET ${announce()} HTTP/1.1\r\n\r\n`);
      const [reply] = await once(elsewhere, 'data') as [Buffer];
      assert.equal(parseReply(reply).status, 200, 'another address is served');
      open[0]!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const again = await connectFrom('127.0.0.1');
      again.write(`GET ${announce()} HTTP/1.1\r\n\r\n`);
      const [reply2] = await once(again, 'data') as [Buffer];
      assert.equal(parseReply(reply2).status, 200, 'a slot freed by a close is taken again');
      assert.equal(await refused('per_ip'), 1);
    } finally {
      for (const s of open) s.destroy();
      await fe2.close();
    }
  });

  it('answers a client that half-closes right after its request, also when a hook is asynchronous', async () => {
    for (const path of ['/announce', '/slow/announce']) {
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = connect({ port: fe.port(), host: '127.0.0.1' }, () => s.end(`GET ${announce({ path })} HTTP/1.0\r\n\r\n`));
        s.on('data', (c) => chunks.push(c));
        s.on('close', () => resolve(Buffer.concat(chunks)));
        s.on('error', reject);
      });
      const parsed = parseReply(reply);
      assert.equal(parsed.status, 200, path);
      assert.equal(dict(parsed.body)['interval'], 1800, path);
    }
  });

  it('delivers replies larger than the socket buffers to a slow reader (writes the kernel takes in parts)', async () => {
    // 100 pipelined keep-alive announces of 1000 peers in the dictionary model (~60 KB each, 6 MB in all) to a client
    // that reads nothing for 300 ms: far more than loopback's socket buffers hold, so writes go async.
    const p2 = pipeline();
    const fe2 = await start(p2, { max_numwant: 1000, default_numwant: 1000, keep_alive: true });
    try {
      const ih = Buffer.alloc(20, 7);
      for (let i = 0; i < 1000; i++) p2.store.putSeeder(ih, peerFor(i));
      const one = `GET ${announce({ ih, id: peerId(99999), extra: 'compact=0&numwant=1000' })} HTTP/1.1\r\n\r\n`;
      const last = `GET ${announce({ ih, id: peerId(99999), extra: 'compact=0&numwant=1000' })} HTTP/1.1\r\nConnection: close\r\n\r\n`;
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = connect({ port: fe2.port(), host: '127.0.0.1' }, () => {
          s.write(one.repeat(99) + last);
          s.pause();
          setTimeout(() => s.resume(), 300);
        });
        s.on('data', (c) => chunks.push(c));
        s.on('end', () => s.end());
        s.on('close', () => resolve(Buffer.concat(chunks)));
        s.on('error', reject);
        setTimeout(() => s.destroy(), 5000);
      });
      let rest = reply;
      for (let n = 0; n < 100; n++) {
        const parsed = parseReply(rest);
        assert.equal(parsed.status, 200, `reply ${n}`);
        assert.equal(parsed.body.length, Number(parsed.headers['content-length']), `reply ${n} complete`);
        assert.equal((dict(parsed.body)['peers'] as unknown[]).length, 1000);
        rest = rest.subarray(rest.indexOf('\r\n\r\n') + 4 + parsed.body.length);
      }
      assert.equal(rest.length, 0);
    } finally {
      await fe2.close();
    }
  });

  it('closes a connection that sends nothing within read_timeout', async () => {
    const p2 = pipeline();
    const fe2 = await start(p2, { read_timeout: '200ms' });
    try {
      const began = Date.now();
      const reply = await rawRequest(fe2.port(), 'GET /announce', 3000);
      assert.equal(reply.length, 0);
      assert.ok(Date.now() - began < 2000);
    } finally {
      await fe2.close();
    }
  });
});

describe(`http frontend options (${layer})`, () => {
  before(() => { transport = layer; });
  it('serves several requests on one connection with keep_alive, in order', async () => {
    const p = pipeline();
    const fe = await start(p, { keep_alive: true });
    try {
      const req = (n: number) => `GET ${announce({ id: peerId(n), left: 0 })} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const replies = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = connect({ port: fe.port(), host: '127.0.0.1' }, () => s.write(req(1) + req(2) + req(3)));
        s.on('data', (c) => {
          chunks.push(c);
          const all = Buffer.concat(chunks);
          if (all.toString('latin1').split('HTTP/1.1 200').length - 1 === 3) {
            s.end();
            resolve(all);
          }
        });
        s.on('error', reject);
        setTimeout(() => reject(new Error('timeout')), 3000).unref();
      });
      const text = replies.toString('latin1');
      assert.equal(text.split('Connection: keep-alive').length - 1, 3);
      assert.equal(p.store.scrapeSwarm(IH).complete, 3);
    } finally {
      await fe.close();
    }
  });

  it('takes the client address from real_ip_header only when configured, and honours ip= only with spoofing on', async () => {
    const ih = Buffer.alloc(20, 0x50);
    const p = pipeline();
    const fe = await start(p, { real_ip_header: 'X-Forwarded-For' });
    const plain = await start(pipeline());
    const spoof = await start(pipeline(), { allow_ip_spoofing: true });
    try {
      await get(fe.port(), announce({ ih, id: peerId(1), port: 7000, left: 0 }), { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' });
      const seen = dict((await get(fe.port(), announce({ ih, id: peerId(2) }))).body)['peers'] as Buffer;
      assert.deepEqual(seen, Buffer.from([198, 51, 100, 7, 0x1b, 0x58]));

      await get(plain.port(), announce({ ih, id: peerId(1), port: 7000, left: 0 }), { 'X-Forwarded-For': '198.51.100.7' });
      await get(plain.port(), `${announce({ ih, id: peerId(3), port: 7001, left: 0 })}&ip=192.0.2.2`);
      const plainPeers = dict((await get(plain.port(), announce({ ih, id: peerId(2) }))).body)['peers'] as Buffer;
      assert.deepEqual([...plainPeers].filter((_, i) => i % 6 < 4), [127, 0, 0, 1, 127, 0, 0, 1]);

      await get(spoof.port(), `${announce({ ih, id: peerId(3), port: 7001, left: 0 })}&ip=192.0.2.2`);
      const spoofed = dict((await get(spoof.port(), announce({ ih, id: peerId(2) }))).body)['peers'] as Buffer;
      assert.deepEqual(spoofed, Buffer.from([192, 0, 2, 2, 0x1b, 0x59]));
      const badIp = await get(spoof.port(), `${announce({ ih, id: peerId(4) })}&ip=not-an-ip`);
      assert.match(failure(badIp.body) ?? '', /invalid ip/);
    } finally {
      await Promise.all([fe.close(), plain.close(), spoof.close()]);
    }
  });

  it('serves configured routes only', async () => {
    const fe = await start(pipeline(), { announce_routes: ['/t/:passkey/a'], scrape_routes: [] });
    try {
      assert.equal((await get(fe.port(), announce())).status, 404);
      assert.equal((await get(fe.port(), announce({ path: `/t/${PASSKEY}/a` }))).status, 200);
      assert.equal((await get(fe.port(), `/scrape?info_hash=${escapeBytes(IH)}`)).status, 404);
    } finally {
      await fe.close();
    }
  });

  it('puts IPv6 clients in the IPv6 swarm and answers with peers6', { skip: !(process.env['PRIVTRAK_NO_IPV6'] === undefined) }, async () => {
    const p = pipeline();
    const fe = await start(p, { addr: '[::1]:0' });
    try {
      const ih = Buffer.alloc(20, 0x60);
      const target = (n: number, left: number) => announce({ ih, id: peerId(n), port: 9000 + n, left });
      const ask = (t: string) => rawRequest(fe.port(), `GET ${t} HTTP/1.1\r\n\r\n`, 3000, '::1');
      await ask(target(1, 0));
      const d = dict(parseReply(await ask(target(2, 5))).body);
      const expected = Buffer.alloc(18);
      expected[15] = 1;
      expected.writeUInt16BE(9001, 16);
      assert.deepEqual(d['peers6'], expected);
      assert.deepEqual(d['peers'], Buffer.alloc(0));
    } finally {
      await fe.close();
    }
  });

  it('listens dual-stack by default: IPv4 and IPv6 clients on one socket, each in its own family\'s swarm', { skip: !(process.env['PRIVTRAK_NO_IPV6'] === undefined) }, async () => {
    assert.equal(httpSchema.parse({}).addr, '[::]:6969', 'the embedded default');
    const p = pipeline();
    const fe = await start(p, { addr: '[::]:0' }) as HttpFrontend;
    try {
      assert.equal(fe.boundHost, '::');
      const ih = Buffer.alloc(20, 0x61);
      const target = (n: number, left: number) => announce({ ih, id: peerId(n), port: 9100 + n, left });
      const ask = (t: string, host: string) => rawRequest(fe.port(), `GET ${t} HTTP/1.1\r\n\r\n`, 3000, host);
      await ask(target(1, 0), '127.0.0.1');
      await ask(target(2, 0), '::1');
      const v4 = dict(parseReply(await ask(target(3, 5), '127.0.0.1')).body);
      // The IPv4 client arrived as ::ffff:127.0.0.1 and was put in the IPv4 swarm: 6-byte peers.
      assert.deepEqual(v4['peers'], Buffer.from([127, 0, 0, 1, (9101 >> 8) & 255, 9101 & 255]));
      assert.deepEqual([v4['complete'], v4['incomplete']], [2, 1], 'both families counted');
      const v6 = dict(parseReply(await ask(target(4, 5), '::1')).body);
      assert.equal((v6['peers6'] as Buffer).length, 18);
    } finally {
      await fe.close();
    }
  });
});
}

describe('http transport on this Node', () => {
  it('loads the libuv TCP bindings where they are expected (Node 20, 22, 24): auto does not silently fall back to node:net', (t) => {
    const major = Number(process.versions.node.split('.')[0]);
    if (![20, 22, 24].includes(major)) {
      t.skip(`Node ${major} is not one privtrak supports (20, 22, 24)`);
      return;
    }
    const fe = createHttpFrontend(httpSchema.parse({ addr: '127.0.0.1:0' }), pipeline().deps) as HttpFrontend;
    assert.equal(fe.transport, 'raw', `fell back on Node ${process.versions.node}: ${fe.transportReason}`);
    assert.equal(fe.transportReason, '');
  });
});
