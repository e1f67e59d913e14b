/**
 * The operator's path with the MySQL sink, through the real command: `serve` and `stats` before
 * `migrate` say what to run; `migrate` twice; a tracker counts announces into MariaDB; `stats`
 * prints them exactly (beyond 2^53 too). A database of its own, dropped afterwards.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, freePort, startTracker, waitExit } from '../support/tracker-process.js';
import { escapeBytes, get } from '../support/http-client.js';
import { freshDatabase, mysqlExec, mysqlUrlOrSkip } from '../support/mysql.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';

describe('privtrak CLI with the mysql sink', () => {
  it('migrate, serve, stats: exact totals in MariaDB; before migrate, serve and stats name the fix', async (t) => {
    if ((await mysqlUrlOrSkip(t)) === undefined) return;
    const db = await freshDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-mysql-cli-'));
    try {
      const port = await freePort();
      const config = join(dir, 'config.yaml');
      writeFileSync(config, [
        'log_level: info', 'metrics_addr: ""', `http: {addr: "127.0.0.1:${port}"}`, 'udp: {addr: ""}',
        'prehooks:', '  - name: privtrak', '    options:',
        `      journal_dir: ${JSON.stringify(join(dir, 'journal'))}`,
        '      flush_interval: 100ms',
        `      sink: {name: mysql, url: "${db.url.replace(/^mysql:/, 'mariadb:')}", timeout: 10s}`,
      ].join('\n'));
      const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args, '--config', config], { encoding: 'utf8', timeout: 20_000, cwd: dir });

      let r = cli('stats', '--json');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^privtrak: mysql sink: database "privtrak_t_[0-9a-f]+" has no privtrak tables: run `privtrak migrate`/);
      r = cli('serve');
      assert.equal(r.status, 1, 'the tracker does not start without the schema');
      assert.match(r.stderr, /run `privtrak migrate`/);
      for (let i = 0; i < 2; i++) {
        r = cli('migrate');
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /mysql schema is up to date/);
      }

      const tracker = await startTracker(config, { cwd: dir });
      try {
        const ih = escapeBytes(Buffer.alloc(20, 0x2a));
        const announce = async (query: string) => {
          const reply = await get(port, `/${PASSKEY}/announce?info_hash=${ih}&peer_id=-qB4520-mysqlcli0001&port=6881&${query}`);
          assert.doesNotMatch(reply.body.toString('latin1'), /failure reason/);
        };
        await announce('uploaded=0&downloaded=0&left=100&event=started');
        await announce('uploaded=2000&downloaded=100&left=0&event=completed');
      } finally {
        tracker.kill('SIGTERM');
        await waitExit(tracker);
      }
      r = cli('stats', '--json');
      assert.equal(r.status, 0, r.stderr);
      // Open mode: the user is the keyed hash of the passkey (0x02 + 15 bytes), never the passkey.
      assert.match(r.stdout.trim(), /^\{"user":"02[0-9a-f]{30}","uploaded":2000,"downloaded":100,"seed_time":0,"leech_time":0,"snatched":1\}$/);
      assert.doesNotMatch(r.stdout, new RegExp(PASSKEY, 'i'));
      // A lifetime total past 2^53 prints exactly (no float on the way).
      await mysqlExec(db.url, ['UPDATE privtrak_user_stats SET uploaded = 18014398509481985']);
      r = cli('stats', '--json', '--user', PASSKEY);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /"uploaded":18014398509481985,/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
