/**
 * No passkey at rest (issue 11): announces over HTTP and UDP, scrapes, admin changes, a restart,
 * then every file the tracker wrote (journal directory, checkpoints, the SQLite database or the
 * log sink's file and state, the secret), everything it logged (trace level), a /metrics scrape
 * and the `stats` output are searched for each passkey — as hex, in either case, and as its raw
 * 16 bytes. Registry mode: none may appear (users are site users, or keyed hashes for a user
 * without a site ID). Open mode: none either, only keyed hashes. The registry's own files are the
 * site's data (they must hold passkeys to authenticate) and are left out of the search.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { createSink } from '../../src/sinks/index.js';
import { runStats } from '../../src/cli/commands/stats.js';
import { passkeyResolver } from '../../src/cli/commands/user-keys-from-config.js';
import { privtrakOptionsFromConfig } from '../../src/cli/commands/sink-from-config.js';
import { escapeBytes, get } from '../support/http-client.js';
import { UdpClient } from '../support/udp-client.js';
import type { Config } from '../../src/config/schema.js';

const SITE_USER = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const NO_SITE_ID = '00112233445566778899aabbccddeeff';
const ADDED = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const PASSKEYS = [SITE_USER, NO_SITE_ID, ADDED];
const TOKEN = 'no-passkey-at-rest-admin-token';
const IH = Buffer.alloc(20, 0x77);

type Sink = { name: 'sqlite'; path: string; delta_log: true } | { name: 'log'; path: string };

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Where a passkey shows in `bytes` (hex either case, raw bytes), or undefined. */
function findPasskey(bytes: Buffer): string | undefined {
  const latin1 = bytes.toString('latin1').toLowerCase();
  for (const p of PASSKEYS) {
    if (latin1.includes(p)) return `${p} as hex`;
    if (bytes.includes(Buffer.from(p, 'hex'))) return `${p} as raw bytes`;
  }
  return undefined;
}

function admin(port: number, method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(text);
  });
}

async function scrapeMetrics(port: number): Promise<Buffer> {
  const r = await get(port, '/metrics');
  return r.body;
}

async function run(mode: 'registry' | 'open', sinkOf: (dir: string) => Sink): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-at-rest-'));
  const data = join(dir, 'data');
  const logs: string[] = [];
  try {
    const registryFiles = [join(dir, 'users.csv'), join(dir, 'torrents.csv')];
    writeFileSync(registryFiles[0]!, `passkey,site_id,enabled,can_leech\n${SITE_USER},31,true,true\n${NO_SITE_ID},,true,true\n`);
    writeFileSync(registryFiles[1]!, 'info_hash,site_id,banned,download_multiplier,upload_multiplier\n');
    const privtrak = { name: 'privtrak', options: { journal_dir: join(data, 'journal'), flush_interval: '20ms', sink: sinkOf(data) } };
    const config: Config = validateConfig({
      metrics_addr: '127.0.0.1:0', log_level: 'trace', http: { addr: '127.0.0.1:0' }, udp: { addr: '127.0.0.1:0' },
      user_key_secret: join(data, 'user-key.secret'),
      ...(mode === 'registry' ? {
        registry: { source: 'file', users: registryFiles[0], torrents: registryFiles[1], poll_interval: '1h', admin_token: TOKEN },
        prehooks: [{ name: 'user_approval' }, { name: 'peer_limits' }, privtrak],
      } : { prehooks: [{ name: 'peer_limits' }, privtrak] }),
    });
    const logger = pino({ level: 'trace' }, { write: (line: string) => { logs.push(line); } });
    let metrics = Buffer.alloc(0);
    for (let round = 0; round < 2; round++) {
      // Two runs: the second restores from the checkpoint and journal the first left.
      const tracker = new Tracker(config, logger, { defaultMetrics: false });
      await tracker.start();
      const udp = new UdpClient(tracker.port('udp'));
      try {
        const active = round === 0 ? [SITE_USER, NO_SITE_ID] : [SITE_USER, NO_SITE_ID, ADDED];
        if (round === 1 && mode === 'registry') {
          // Admin changes log a fingerprint of the passkey, never the passkey.
          assert.equal(await admin(tracker.port('metrics'), 'PUT', `/admin/users/${ADDED}`, { site_id: 32 }), 200);
          assert.equal(await admin(tracker.port('metrics'), 'POST', `/admin/users/${NO_SITE_ID}/disable`), 200);
          assert.equal(await admin(tracker.port('metrics'), 'POST', `/admin/users/${NO_SITE_ID}/enable`), 200);
        }
        for (const [i, p] of active.entries()) {
          const peer = escapeBytes(Buffer.from(`-qB4520-atrest${i}${round}abcd`));
          for (const [up, event] of [[0, 'started'], [1000, ''], [2000, 'completed']] as const) {
            const r = await get(tracker.port('http'), `/${p}/announce?info_hash=${escapeBytes(IH)}&peer_id=${peer}&port=6881&uploaded=${up}&downloaded=${up}&left=${event === 'completed' ? 0 : 5}${event ? `&event=${event}` : ''}`);
            assert.doesNotMatch(r.body.toString('latin1'), /failure reason/);
          }
          assert.equal((await get(tracker.port('http'), `/${p}/scrape?info_hash=${escapeBytes(IH)}`)).status, 200);
          const u = await udp.announce({ infoHash: IH, peerId: Buffer.from(`-qB4520-udprest${i}${round}abc`), urlData: `/${p}/announce`, left: 0, event: 'started', uploaded: 5 });
          assert.equal(u.error, undefined);
        }
        // A refused announce (malformed and unknown passkeys) is logged nowhere with its passkey either.
        await get(tracker.port('http'), `/${'9'.repeat(32)}/announce?info_hash=${escapeBytes(IH)}&peer_id=${escapeBytes(Buffer.alloc(20, 1))}&port=1&uploaded=0&downloaded=0&left=0`);
        metrics = Buffer.concat([metrics, await scrapeMetrics(tracker.port('metrics'))]);
      } finally {
        udp.close();
        assert.deepEqual(await tracker.stop(), []);
      }
    }
    const out: string[] = [];
    const stats = async (args: { user?: string; byTorrent?: boolean }) => {
      await runStats(createSink(privtrakOptionsFromConfig(config).sink), { user: args.user, byTorrent: args.byTorrent ?? false, json: true, detail: true },
        (l) => out.push(l), passkeyResolver(config));
    };
    await stats({});
    await stats({ byTorrent: true });
    for (const p of PASSKEYS) await stats({ user: p });
    const totals = out.map((l) => JSON.parse(l) as { site_user_id?: number; user?: string; uploaded: number });
    assert.ok(totals.length >= 3 * 2, out.join('\n'));
    if (mode === 'registry') {
      assert.deepEqual(totals.slice(0, 3).map((t) => t.site_user_id ?? 'hashed').sort(), [31, 32, 'hashed']);
    } else {
      assert.ok(totals.every((t) => t.site_user_id === undefined && /^02[0-9a-f]{30}$/.test(t.user!)));
    }
    // `stats --user PASSKEY` finds each user.
    assert.deepEqual(out.slice(-3).map((l) => (JSON.parse(l) as { uploaded: number }).uploaded), [2 * 2005, 2 * 2005, 2005]);

    // The search works: the registry's own file (left out below) does hold the passkeys.
    assert.match(findPasskey(readFileSync(registryFiles[0]!)) ?? '', /as hex/);
    assert.match(findPasskey(Buffer.from(`x${Buffer.from(ADDED, 'hex').toString('latin1')}y`, 'latin1')) ?? '', /as raw bytes/);
    const written = files(dir).filter((f) => !registryFiles.includes(f));
    assert.ok(written.some((f) => f.includes('journal')), written.join(', '));
    assert.equal(statSync(join(data, 'user-key.secret')).mode & 0o777, 0o600);
    const found: string[] = [];
    for (const f of written) {
      const hit = findPasskey(readFileSync(f));
      if (hit !== undefined) found.push(`${relative(dir, f)}: ${hit}`);
    }
    for (const [what, bytes] of [['logs', Buffer.from(logs.join(''))], ['/metrics', metrics], ['stats', Buffer.from(out.join('\n'))]] as const) {
      const hit = findPasskey(bytes);
      if (hit !== undefined) found.push(`${what}: ${hit}`);
    }
    assert.deepEqual(found, [], `passkeys at rest (${mode} mode)`);
    assert.ok(logs.some((l) => /sha256:[0-9a-f]{8}/.test(l)) || mode === 'open', 'admin changes name passkeys by fingerprint');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('no passkey at rest', () => {
  for (const mode of ['registry', 'open'] as const) {
    it(`${mode} mode, SQLite sink with its delta log: no passkey in any file, log, metric or stats line`, () =>
      run(mode, (data) => ({ name: 'sqlite', path: join(data, 'privtrak.sqlite'), delta_log: true })));
    it(`${mode} mode, log sink: the same`, () => run(mode, (data) => ({ name: 'log', path: join(data, 'deltas.ndjson') })));
  }
});
