/**
 * `privtrak users …` and `privtrak torrents …` as an operator runs them (child processes), against
 * the file registry and privtrak's own tables in PostgreSQL and MariaDB — including importing
 * the passkeys of an existing site from its database (`--from-sql`), and a running tracker
 * picking the changes up at its next poll or refresh.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { MAIN } from '../support/tracker-process.js';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { POSTGRES_URL, postgresUrlOrSkip, freshSchema } from '../support/postgres.js';
import { mysqlExec, mysqlUrlOrSkip, uniqueName } from '../support/mysql.js';
import { waitUntil } from '../e2e/clients.js';

const A = '0123456789abcdef0123456789abcdef';
const B = 'fedcba9876543210fedcba9876543210';
const IH = 'ab'.repeat(20);

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function workspace(registry: Record<string, unknown>): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-cli-registry-'));
  dirs.push(dir);
  const config = join(dir, 'config.yaml');
  // No privtrak hook: these commands need no sink.
  writeFileSync(config, stringify({ registry, prehooks: [{ name: 'user_approval' }] }));
  return { dir, config };
}

function cli(config: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args, '--config', config], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Whether an announce by `passkey` on `ih` is accepted, asked of the tracker's hooks directly. */
function verdict(tracker: Tracker, passkey: string, ihHex = IH): string | undefined {
  const hooks = tracker.chain.preHooks;
  const ctx = { params: { passkey }, query: {}, userAgent: undefined };
  const req = { infoHash: Buffer.from(ihHex, 'hex'), peer: { id: Buffer.alloc(20, 0x41) }, event: 'none', left: 5, transport: 'http' };
  try {
    for (const h of hooks.slice(0, -1)) h.handleAnnounce(ctx as never, req as never, {} as never);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function trackerFor(registry: Record<string, unknown>): Promise<Tracker> {
  const config = validateConfig({
    metrics_addr: '', log_level: 'silent', http: { addr: '' }, udp: { addr: '' }, registry,
    prehooks: [{ name: 'user_approval' }, { name: 'torrent_approval' }],
  });
  const t = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
  await t.start();
  return t;
}

describe('privtrak users / torrents: file registry', () => {
  it('adds, disables, enables, removes users and torrents; exit codes 0, 1, 2', async () => {
    const { dir, config } = workspace({ source: 'file', users: 'PLACEHOLDER', torrents: 'PLACEHOLDER', poll_interval: '100ms' });
    const registry = { source: 'file', users: join(dir, 'users.csv'), torrents: join(dir, 'torrents.yaml'), poll_interval: '100ms' };
    writeFileSync(config, stringify({ registry }));
    const tracker = await trackerFor(registry);
    try {
      assert.equal(verdict(tracker, A), 'unknown passkey');
      let r = cli(config, 'users', 'add', A, '--site-id', '7');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(cli(config, 'torrents', 'add', IH, '--site-id', '3', '--download-multiplier', '0').status, 0);
      await waitUntil(() => verdict(tracker, A) === undefined, 5000, 'the running tracker to see the new user and torrent');
      assert.equal(cli(config, 'users', 'disable', A).status, 0);
      await waitUntil(() => verdict(tracker, A) === 'account disabled', 5000, 'the running tracker to see the disabled user');
      assert.equal(cli(config, 'users', 'enable', A).status, 0);
      assert.equal(readFileSync(join(dir, 'users.csv'), 'utf8'), `passkey,site_id,enabled,can_leech\n${A},7,true,true\n`);
      r = cli(config, 'torrents', 'list', '--json');
      assert.deepEqual(JSON.parse(r.stdout), { info_hash: IH, site_id: 3, banned: false, download_multiplier: 0, upload_multiplier: null });
      assert.match(cli(config, 'torrents', 'list').stdout, new RegExp(`^info_hash .*\\n${IH}\\s+3\\s+false\\s+0\\s+-`));
      assert.equal(cli(config, 'torrents', 'rm', IH).status, 0);
      await waitUntil(() => verdict(tracker, A) === 'torrent not registered', 5000, 'the torrent removal');
      assert.equal(cli(config, 'users', 'rm', A).status, 0);
      r = cli(config, 'users', 'rm', A);
      assert.equal(r.status, 1, 'no such user: a runtime failure');
      assert.match(r.stderr, /no such user/);
      assert.equal(cli(config, 'torrents', 'rm', IH).status, 1);
      r = cli(config, 'users', 'add', 'not-a-passkey');
      assert.equal(r.status, 2, 'usage error');
      assert.match(r.stderr, /passkey: expected 32 hex characters/);
      assert.equal(cli(config, 'users', 'frobnicate').status, 2);
      assert.equal(cli(config, 'users', 'add').status, 2);
      assert.equal(cli(config, 'users', 'add', A, '--sideid', '1').status, 2, 'unknown option');
    } finally {
      await tracker.stop();
    }
  });

  it('imports users from CSV and YAML files, merging, keeping their passkeys; a bad file imports nothing', () => {
    const { dir, config } = workspace({ source: 'file', users: 'x' });
    writeFileSync(config, stringify({ registry: { source: 'file', users: join(dir, 'users.yaml') } }));
    writeFileSync(join(dir, 'old.csv'), `passkey,site_id,can_leech\n${A},1,true\n${B},2,false\n`);
    let r = cli(config, 'users', 'import', join(dir, 'old.csv'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imported 2 users \(2 new, 0 replaced\)/);
    writeFileSync(join(dir, 'more.yaml'), `- {passkey: ${B}, site_id: 2, enabled: false}\n- {passkey: ${'c'.repeat(32)}}\n`);
    r = cli(config, 'users', 'import', join(dir, 'more.yaml'));
    assert.match(r.stdout, /imported 2 users \(1 new, 1 replaced\)/);
    const text = readFileSync(join(dir, 'users.yaml'), 'utf8');
    assert.equal(text.split('\n').filter(Boolean).length, 3);
    assert.match(text, new RegExp(`passkey: "${B}", site_id: 2, enabled: false, can_leech: true`));
    writeFileSync(join(dir, 'bad.csv'), `passkey\n${'d'.repeat(32)}\nnope\n`);
    r = cli(config, 'users', 'import', join(dir, 'bad.csv'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.csv: line 3: passkey: expected 32 hex characters \(nothing imported\)/);
    assert.equal(readFileSync(join(dir, 'users.yaml'), 'utf8'), text);
  });

  it('check-config never prints the admin token', () => {
    const { config } = workspace({ source: 'file', users: 'u.csv', admin_token: 'secret-secret-secret' });
    const r = spawnSync(process.execPath, [MAIN, 'check-config', '--config', config], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /secret-secret/);
    assert.match(r.stdout, /"admin_token": "\(set\)"/);
  });

  it('exits 2 when no registry is configured', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-cli-noreg-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'c.yaml'), 'log_level: info\n');
    const r = cli(join(dir, 'c.yaml'), 'users', 'add', A);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /config: registry: no registry is configured/);
  });
});

describe('privtrak users / torrents: privtrak tables in PostgreSQL, importing from a MariaDB site', () => {
  it('migrate, import --from-sql (Ocelot-like users_main on MariaDB), disable, rm; the tracker follows by refresh', async (t) => {
    const pgUrl = await postgresUrlOrSkip(t);
    if (!pgUrl) return;
    const myUrl = await mysqlUrlOrSkip(t);
    if (!myUrl) return;
    const schema = await freshSchema(pgUrl);
    const old = uniqueName('users_main');
    await mysqlExec(myUrl, [
      `CREATE TABLE ${old} (ID INT PRIMARY KEY, torrent_pass CHAR(32) NOT NULL, Enabled ENUM('0','1','2') NOT NULL, can_leech TINYINT(1) NOT NULL)`,
      [`INSERT INTO ${old} VALUES (1, ?, '1', 1), (2, ?, '2', 1), (3, ?, '1', 0)`, [A, B, 'c'.repeat(32)]],
    ]);
    const registry = {
      source: 'postgres', url: pgUrl, refresh_interval: '1h',
      users_table: `${schema.name}.privtrak_users`, torrents_table: `${schema.name}.privtrak_torrents`,
    };
    const { config } = workspace(registry);
    let tracker: Tracker | undefined;
    try {
      let r = cli(config, 'migrate');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /registry tables .*privtrak_users.* are up to date/);
      r = cli(config, 'users', 'import', '--from-url', myUrl, '--from-sql',
        `SELECT torrent_pass AS passkey, ID AS site_id, Enabled = '1' AS enabled, can_leech FROM ${old}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /imported 3 users \(3 new, 0 replaced\)/);
      assert.equal(cli(config, 'torrents', 'add', IH, '--site-id', '9', '--upload-multiplier', '2').status, 0);
      tracker = await trackerFor(registry);
      assert.equal(verdict(tracker, A), undefined);
      assert.equal(verdict(tracker, B), 'account disabled');
      assert.equal(tracker.accessRegistry!.user(A)?.siteId, 1);
      assert.equal(tracker.accessRegistry!.torrent(Buffer.from(IH, 'hex'))?.uploadMultiplier, 2);
      assert.equal(cli(config, 'users', 'disable', A).status, 0);
      assert.equal(cli(config, 'users', 'enable', B).status, 0);
      assert.equal(await tracker.accessRegistry!.refresh(), true);
      assert.equal(verdict(tracker, A), 'account disabled');
      assert.equal(verdict(tracker, B), undefined);
      assert.equal(cli(config, 'users', 'rm', B).status, 0);
      assert.equal(cli(config, 'users', 'rm', B).status, 1);
      await tracker.accessRegistry!.refresh();
      assert.equal(verdict(tracker, B), 'unknown passkey', 'a removal reaches the tracker by the incremental refresh');
      assert.match(cli(config, 'torrents', 'list').stdout, new RegExp(`${IH}\\s+9\\s+false\\s+-\\s+2`));
      r = cli(config, 'users', 'import', '--from-url', myUrl, '--from-sql', `SELECT 'bad' AS passkey FROM ${old}`);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /row 1: passkey: expected 32 hex characters \(nothing imported; --skip-invalid/);
    } finally {
      await tracker?.stop();
      await schema.drop();
      await mysqlExec(myUrl, [`DROP TABLE IF EXISTS ${old}`]);
    }
  });
});

describe('privtrak users / torrents: privtrak tables in MariaDB, importing from a PostgreSQL site', () => {
  it('import --from-sql (UNIT3D-like users on PostgreSQL), add, disable, rm; the tracker follows by refresh', async (t) => {
    const myUrl = await mysqlUrlOrSkip(t);
    if (!myUrl) return;
    const pgUrl = await postgresUrlOrSkip(t);
    if (!pgUrl) return;
    const schema = await freshSchema(POSTGRES_URL);
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`CREATE TABLE ${schema.name}.users (id bigint PRIMARY KEY, passkey char(32), can_download boolean)`);
    await c.query(`INSERT INTO ${schema.name}.users VALUES (10, $1, true), (20, $2, false)`, [A, B]);
    await c.end();
    const users = uniqueName('privtrak_users');
    const torrents = uniqueName('privtrak_torrents');
    const registry = { source: 'mysql', url: myUrl, refresh_interval: '1h', users_table: users, torrents_table: torrents };
    const { config } = workspace(registry);
    let tracker: Tracker | undefined;
    try {
      let r = cli(config, 'users', 'import', '--from-url', pgUrl, '--from-sql', `SELECT passkey, id AS site_id, can_download AS can_leech FROM ${schema.name}.users`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /imported 2 users/);
      assert.equal(cli(config, 'torrents', 'add', IH, '--banned').status, 0);
      tracker = await trackerFor(registry);
      assert.equal(verdict(tracker, A), 'torrent banned');
      assert.equal(cli(config, 'torrents', 'add', IH).status, 0);
      assert.equal(cli(config, 'users', 'add', 'e'.repeat(32), '--site-id', '30', '--no-leech').status, 0);
      assert.equal(cli(config, 'users', 'disable', A).status, 0);
      await tracker.accessRegistry!.refresh();
      assert.equal(verdict(tracker, A), 'account disabled');
      assert.equal(verdict(tracker, B), 'download privileges revoked: seeding only');
      assert.equal(verdict(tracker, 'e'.repeat(32)), 'download privileges revoked: seeding only');
      assert.equal(tracker.accessRegistry!.user('e'.repeat(32))?.siteId, 30);
      assert.equal(cli(config, 'torrents', 'rm', IH).status, 0);
      await tracker.accessRegistry!.refresh();
      assert.equal(tracker.accessRegistry!.torrent(Buffer.from(IH, 'hex')), undefined, 'the removal reached the tracker');
      r = cli(config, 'torrents', 'list', '--json');
      assert.equal(r.stdout.trim(), '');
    } finally {
      await tracker?.stop();
      await schema.drop();
      await mysqlExec(myUrl, [`DROP TABLE IF EXISTS ${users}, ${torrents}`]);
    }
  });
});
