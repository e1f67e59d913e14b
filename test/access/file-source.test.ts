/**
 * The file registry: YAML and CSV parsing with errors naming the line, reload when a file
 * changes (through the tracker's own poll timer), a bad file refused as a whole while the last
 * good copy stays, admin changes written through to the file.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { FileSource } from '../../src/access/file-source.js';
import { AccessRegistry } from '../../src/access/registry.js';
import { RegistryFileError, formatTorrentsFile, formatUsersFile, parseTorrentsFile, parseUsersFile } from '../../src/access/file-format.js';
import { torrent, user } from '../support/access.js';
import { waitUntil } from '../e2e/clients.js';
import { RecordingFs } from '../support/recording-fs.js';

const A = '0123456789abcdef0123456789abcdef';
const DIGITS = '12345678901234567890123456789012';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'privtrak-registry-'));
  dirs.push(d);
  return d;
}
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('registry file formats', () => {
  it('reads CSV and YAML with defaults, and keeps an all-digit passkey a string', () => {
    const csv = parseUsersFile(`# users\npasskey,site_id,can_leech\n${A},7,no\r\n${DIGITS},,\n`, 'csv', 'u.csv');
    assert.deepEqual(csv, [user(A, { siteId: 7, canLeech: false }), user(DIGITS)]);
    const yaml = parseUsersFile(`- {passkey: ${DIGITS}, enabled: false}\n- passkey: ${A.toUpperCase()}\n  site_id: null\n`, 'yaml', 'u.yaml');
    assert.deepEqual(yaml, [user(DIGITS, { enabled: false }), user(A)]);
    const t = parseTorrentsFile(`info_hash,site_id,banned,download_multiplier,upload_multiplier\n${'ab'.repeat(20)},5,0,0,2\n`, 'csv', 't.csv');
    assert.deepEqual(t, [torrent(Buffer.from('ab'.repeat(20), 'hex'), { siteId: 5, downloadMultiplier: 0, uploadMultiplier: 2 })]);
    assert.deepEqual(parseUsersFile('', 'yaml', 'empty.yaml'), []);
  });

  it('refuses a bad file, naming the file and the line or entry', () => {
    const bad = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error) => e instanceof RegistryFileError && re.test(e.message));
    bad(() => parseUsersFile('passkey,sitee_id\n', 'csv', 'u.csv'), /^u\.csv: line 1: unknown column "sitee_id"/);
    bad(() => parseUsersFile(`site_id\n1\n`, 'csv', 'u.csv'), /must name the "passkey" column/);
    bad(() => parseUsersFile(`passkey\n${A}\nnope\n`, 'csv', 'u.csv'), /^u\.csv: line 3: passkey: expected 32 hex characters/);
    bad(() => parseUsersFile(`passkey,enabled\n${A},maybe\n`, 'csv', 'u.csv'), /line 2: enabled: expected a boolean/);
    bad(() => parseUsersFile(`passkey\n"${A}"\n`, 'csv', 'u.csv'), /quoted fields are not supported/);
    bad(() => parseUsersFile(`- {passkey: ${A}, colour: red}\n`, 'yaml', 'u.yaml'), /entry 1: unknown key "colour"/);
    bad(() => parseUsersFile('users: []\n', 'yaml', 'u.yaml'), /expected a list of mappings/);
    bad(() => parseTorrentsFile(`- {info_hash: ${'ab'.repeat(20)}, upload_multiplier: 200}\n`, 'yaml', 't.yaml'), /upload_multiplier: expected a number from 0 to 100/);
  });

  it('writes what it reads (round trip, both formats)', () => {
    const users = [user(A, { siteId: 1, canLeech: false }), user(DIGITS, { enabled: false })];
    const torrents = [torrent(Buffer.alloc(20, 0xcd), { siteId: 3, banned: true, uploadMultiplier: 1.5 })];
    for (const f of ['csv', 'yaml'] as const) {
      assert.deepEqual(parseUsersFile(formatUsersFile(users, f), f, 'x'), users);
      assert.deepEqual(parseTorrentsFile(formatTorrentsFile(torrents, f), f, 'x'), torrents);
    }
  });
});

describe('file registry source', () => {
  async function start(dir: string, pollIntervalMs = 50, fs?: RecordingFs) {
    const metrics = new Registry();
    const source = new FileSource({ users: join(dir, 'users.csv'), torrents: join(dir, 'torrents.yaml'), pollIntervalMs, fs });
    const registry = new AccessRegistry(source, { logger: pino({ level: 'silent' }), prometheus: metrics });
    await registry.start();
    return { registry, metrics, source };
  }

  it('starts empty when the files do not exist yet, then loads them when they appear', async () => {
    const dir = tmp();
    const { registry } = await start(dir);
    try {
      assert.equal(registry.status().users, 0);
      writeFileSync(join(dir, 'users.csv'), `passkey\n${A}\n`);
      await waitUntil(() => registry.user(A) !== undefined, 5000, 'the new users file to be loaded');
    } finally {
      await registry.stop();
    }
  });

  it('reloads on change; a bad file keeps the last good copy and counts a failure; the fix is picked up', async () => {
    const dir = tmp();
    const users = join(dir, 'users.csv');
    writeFileSync(users, `passkey,enabled\n${A},true\n`);
    const { registry, metrics } = await start(dir);
    const failures = async () => (await metrics.getSingleMetric('privtrak_registry_refresh_failures_total')!.get()).values[0]!.value;
    try {
      assert.equal(registry.user(A)?.enabled, true);
      writeFileSync(users, `passkey,enabled\n${A},false\n`);
      await waitUntil(() => registry.user(A)?.enabled === false, 5000, 'the change to be loaded');
      writeFileSync(users, `passkey,enabled\n${A},true\nnot-a-passkey,true\n`);
      await waitUntil(async () => (await failures()) >= 1, 5000, 'the bad file to be refused');
      assert.equal(registry.user(A)?.enabled, false, 'the last good copy, not half of the bad file');
      writeFileSync(users, `passkey,enabled\n${A},true\n`);
      await waitUntil(() => registry.user(A)?.enabled === true, 5000, 'the fixed file to be loaded');
      rmSync(users);
      const before = await failures();
      await waitUntil(async () => (await failures()) > before, 5000, 'a missing file to count as a failure');
      assert.equal(registry.user(A)?.enabled, true);
    } finally {
      await registry.stop();
    }
  });

  it('a file written while a refresh read it: the last copy stays, the registry\'s age keeps running, the next refresh takes the new content', async () => {
    const dir = tmp();
    const users = join(dir, 'users.csv');
    writeFileSync(users, `passkey,enabled\n${A},true\n`);
    let now = 1_000_000;
    const source = new FileSource({ users, torrents: join(dir, 'torrents.yaml'), pollIntervalMs: 3_600_000 });
    const registry = new AccessRegistry(source, { logger: pino({ level: 'silent' }), prometheus: new Registry(), now: () => now });
    await registry.start();
    await registry.stop(); // refresh() by hand
    const readFile = fsp.readFile;
    try {
      assert.equal(registry.lastSuccessMs, 1_000_000);
      writeFileSync(users, `passkey,enabled\n${A},false\n`);
      // The next read sees the file replaced again under it (another size, so another stamp).
      let raced = 0;
      fsp.readFile = (async (...args: Parameters<typeof readFile>) => {
        const text = await readFile(...args);
        if (String(args[0]) === users && raced++ === 0) writeFileSync(users, `passkey,enabled,can_leech\n${A},false,false\n`);
        return text;
      }) as typeof readFile;
      now = 1_060_000;
      assert.equal(await registry.refresh(), true, 'not a failure');
      assert.equal(raced, 1);
      assert.equal(registry.user(A)?.enabled, true, 'the last copy, not the content read mid-write');
      assert.equal(registry.lastSuccessMs, 1_000_000, 'the age keeps running: the copy in use is behind the file');
      now = 1_120_000;
      assert.equal(await registry.refresh(), true);
      assert.deepEqual([registry.user(A)?.enabled, registry.user(A)?.canLeech], [false, false], 'the newest content');
      assert.equal(registry.lastSuccessMs, 1_120_000);
      now = 1_180_000;
      assert.equal(await registry.refresh(), true);
      assert.equal(registry.lastSuccessMs, 1_180_000, 'a poll that finds the file unchanged is current: the age resets');
    } finally {
      fsp.readFile = readFile;
    }
  });

  it('writes admin changes to the file (atomically, under a lock) and does not re-read its own write', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'users.csv'), `passkey\n${A}\n`);
    const fs = new RecordingFs();
    const { registry, metrics } = await start(dir, 3_600_000, fs);
    try {
      await registry.putUser(user(DIGITS, { siteId: 4 }));
      // Durable before it is answered: the new content fsynced, renamed into place, the directory fsynced.
      assert.equal(fs.calls.length, 3, fs.calls.join(' | '));
      assert.match(fs.calls[0]!, /^fsync \.users\.csv\.\d+\.[0-9a-f]+\.tmp$/);
      assert.match(fs.calls[1]!, /^rename \.users\.csv\.\d+\.[0-9a-f]+\.tmp users\.csv$/);
      assert.equal(fs.calls[2], `fsyncdir ${basename(dir)}`);
      await registry.setUserEnabled(A, false);
      await registry.putTorrent(torrent(Buffer.alloc(20, 7), { siteId: 8 }));
      assert.equal(registry.user(A)?.enabled, false);
      assert.equal(registry.status().overrides, 0, 'persisted, not held in memory');
      assert.equal(readFileSync(join(dir, 'users.csv'), 'utf8'), `passkey,site_id,enabled,can_leech\n${A},,false,true\n${DIGITS},4,true,true\n`);
      assert.match(readFileSync(join(dir, 'torrents.yaml'), 'utf8'), /site_id: 8/);
      assert.ok(!existsSync(join(dir, 'users.csv.lock')));
      assert.equal(await registry.refresh(), true);
      const kinds = (await metrics.getSingleMetric('privtrak_registry_refreshes_total')!.get()).values;
      assert.equal(kinds.find((v) => v.labels['kind'] === 'unchanged')?.value, 1, 'its own write is not reloaded');
      // Another writer (the CLI) changes the file: the next refresh delivers it.
      writeFileSync(join(dir, 'users.csv'), `passkey\n${A}\n`);
      await registry.refresh();
      assert.equal(registry.user(DIGITS), undefined);
      // Every successful refresh is timed, by kind: the load at start and this one were full.
      const timed = (await metrics.getSingleMetric('privtrak_registry_refresh_duration_seconds')!.get()).values
        .filter((v) => (v as { metricName?: string }).metricName === 'privtrak_registry_refresh_duration_seconds_count');
      assert.deepEqual(Object.fromEntries(timed.map((v) => [v.labels['kind'], v.value])), { full: 2, unchanged: 1 });
    } finally {
      await registry.stop();
    }
  });
});
