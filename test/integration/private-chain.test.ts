/**
 * The private chain end to end, in one tracker: a file registry, user_approval,
 * torrent_approval and freeleech in front of the privtrak hook, HTTP announces in, and the
 * SQLite sink's totals out. Proves the policy reaches the books: credited bytes follow the
 * torrent's multipliers, raw bytes stay as reported, and the site's torrent ID is stored.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { SqliteSink } from '../../src/sinks/sqlite-sink.js';
import { escapeBytes, get } from '../support/http-client.js';
import { siteUserKey } from '../../src/accounting/user-key.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';
const FREELEECH = Buffer.alloc(20, 0xf1); // download ×0, upload ×2, site ID 4242
const NORMAL = Buffer.alloc(20, 0x0a); // ×1, site ID 7

describe('the private chain: registry → access hooks → privtrak → sink', () => {
  it('credits raw × the torrent\'s multipliers, keeps the raw bytes, and stores the site\'s torrent IDs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-chain-'));
    try {
      writeFileSync(join(dir, 'users.csv'), `passkey,site_id,enabled,can_leech\n${PASSKEY},99,true,true\n`);
      writeFileSync(join(dir, 'torrents.csv'), 'info_hash,site_id,banned,download_multiplier,upload_multiplier\n'
        + `${FREELEECH.toString('hex')},4242,false,0,2\n${NORMAL.toString('hex')},7,false,,\n`);
      const dbPath = join(dir, 'stats.sqlite');
      const config = validateConfig({
        metrics_addr: '', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
        registry: { source: 'file', users: join(dir, 'users.csv'), torrents: join(dir, 'torrents.csv') },
        prehooks: [
          { name: 'user_approval' }, { name: 'torrent_approval', options: { mode: 'whitelist' } }, { name: 'freeleech' },
          { name: 'privtrak', options: { journal_dir: join(dir, 'journal'), sink: { name: 'sqlite', path: dbPath } } },
        ],
      });
      const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
      await tracker.start();
      const port = tracker.port('http');
      const announce = async (ih: Buffer, up: number, down: number, left: number, event = '') => {
        const path = `/${PASSKEY}/announce?info_hash=${escapeBytes(ih)}&peer_id=-qB4520-chainchain01&port=6881`
          + `&uploaded=${up}&downloaded=${down}&left=${left}${event ? `&event=${event}` : ''}`;
        const reply = await get(port, path);
        assert.doesNotMatch(reply.body.toString('latin1'), /failure reason/);
      };
      await announce(FREELEECH, 0, 0, 5000, 'started');
      await announce(FREELEECH, 1000, 3000, 2000);
      await announce(FREELEECH, 1500, 5000, 0, 'completed');
      await announce(NORMAL, 0, 0, 100, 'started');
      await announce(NORMAL, 40, 100, 0, 'completed');
      const unregistered = await get(port, `/${PASSKEY}/announce?info_hash=${escapeBytes(Buffer.alloc(20, 0x33))}&peer_id=-qB4520-chainchain01&port=6881&uploaded=0&downloaded=0&left=1`);
      assert.match(unregistered.body.toString('latin1'), /failure reason/, 'whitelist mode refuses unregistered torrents');
      await tracker.stop();

      const sink = new SqliteSink({ path: dbPath });
      await sink.open();
      try {
        const user = siteUserKey(99); // the site user, not the passkey
        const [total] = await sink.totals({ user, byTorrent: false });
        assert.deepEqual([total!.uploaded, total!.downloaded, total!.rawUploaded, total!.rawDownloaded, total!.snatched],
          [3000n + 40n, 0n + 100n, 1540n, 5100n, 2n]);
        const rows = await sink.totals({ user, byTorrent: true });
        assert.deepEqual(rows.map((r) => [r.infoHash!.toString('hex'), r.uploaded, r.downloaded, r.rawUploaded, r.rawDownloaded, r.siteTorrentId]), [
          [NORMAL.toString('hex'), 40n, 100n, 40n, 100n, 7n],
          [FREELEECH.toString('hex'), 3000n, 0n, 1500n, 5000n, 4242n],
        ]);
      } finally {
        await sink.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
