/**
 * Progress of long operator work as an operator sees it, through the real CLI: `users import`
 * (from a file, and from a database with --skip-invalid), `recover`, `migrate` end with a summary
 * line on stderr, and `serve` logs one for the journal replay at start-up — each with the rows
 * the work really did and the rejects it really met. A few thousand rows: the summary is the same
 * line for a million. (How often lines and frames come is the reporter's unit test.)
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MAIN, startTracker, waitExit } from '../support/tracker-process.js';
import { postgresUrlOrSkip, freshSchema } from '../support/postgres.js';
import { delta } from '../support/deltas.js';
import { legacyDelta, writeLegacyJournal } from '../support/legacy-fixtures.js';
import { encodeRecord } from '../../src/accounting/delta-record.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function workspace(config: Record<string, unknown>): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-cli-progress-'));
  dirs.push(dir);
  const path = join(dir, 'config.yaml');
  writeFileSync(path, stringify(JSON.parse(JSON.stringify(config).replaceAll('$DIR', dir))));
  return { dir, config: path };
}

function cli(config: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // stderr is a pipe here, not a terminal: periodic lines (none in so short a run) and the summary.
  const r = spawnSync(process.execPath, [MAIN, ...args, '--config', config], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `privtrak: <task>: N <rows> in T (R <rows>/s), K <rejects>`: the numbers, or undefined if no such line. */
function summary(stderr: string, task: string): { rows: number; rejects: number } | undefined {
  const m = new RegExp(`^privtrak: ${task}: ([\\d,]+) [a-z ]+ in [\\d.]+ (?:s|min \\d+ s)(?: \\([\\d,]+ [a-z ]+/s\\))?, ([\\d,]+) [a-z ]+$`, 'm').exec(stderr);
  return m === null ? undefined : { rows: Number(m[1]!.replaceAll(',', '')), rejects: Number(m[2]!.replaceAll(',', '')) };
}

const passkey = (i: number) => i.toString(16).padStart(32, '0');

/** A journal segment of `n` current records with a damaged stretch (garbage between two records) after the first half. */
function writeJournal(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const records = Array.from({ length: n }, (_, i) => encodeRecord(delta(i + 1, {
    user: Buffer.from(passkey(i % 50 + 1), 'hex'), peerId: Buffer.from(`-qB4520-${String(i).padStart(12, '0')}`),
    timeMs: Date.now(), baseline: { uploaded: i, downloaded: 0, left: 0, lastMs: Date.now() },
  })));
  records.splice(n / 2, 0, Buffer.alloc(100, 0x55));
  writeFileSync(join(dir, `journal-${'1'.padStart(16, '0')}.bin`), Buffer.concat(records));
}

describe('progress summaries of operator work', () => {
  it('users import FILE: the users written, no rejects (a malformed file is refused whole, with no summary)', () => {
    const { dir, config } = workspace({ registry: { source: 'file', users: '$DIR/users.csv' }, prehooks: [{ name: 'user_approval' }] });
    const rows = Array.from({ length: 3000 }, (_, i) => `${passkey(i + 1)},${i + 1},true,true`);
    writeFileSync(join(dir, 'import.csv'), `passkey,site_id,enabled,can_leech\n${rows.join('\n')}\n`);
    let r = cli(config, 'users', 'import', join(dir, 'import.csv'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imported 3000 users \(3000 new, 0 replaced\)/, 'what the command prints is unchanged');
    assert.deepEqual(summary(r.stderr, 'users import'), { rows: 3000, rejects: 0 }, r.stderr);
    assert.equal(readFileSync(join(dir, 'users.csv'), 'utf8').trim().split('\n').length, 3001);

    writeFileSync(join(dir, 'bad.csv'), `passkey\n${passkey(1)}\nnope\n`);
    r = cli(config, 'users', 'import', join(dir, 'bad.csv'));
    assert.equal(r.status, 2);
    assert.equal(summary(r.stderr, 'users import'), undefined, `no summary for an import that did nothing:\n${r.stderr}`);
  });

  it('users import --from-sql --skip-invalid into PostgreSQL tables: the users written chunk by chunk, the malformed rows as rejects', async (t) => {
    const url = await postgresUrlOrSkip(t);
    if (!url) return;
    const schema = await freshSchema(url);
    try {
      const { config } = workspace({
        registry: { source: 'postgres', url, refresh_interval: '1h', users_table: `${schema.name}.privtrak_users`, torrents_table: `${schema.name}.privtrak_torrents` },
        prehooks: [{ name: 'user_approval' }],
      });
      // 3,000 rows, every 500th one malformed: 6 rejects.
      const query = "SELECT CASE WHEN i % 500 = 0 THEN 'not-a-passkey' ELSE lpad(to_hex(i), 32, '0') END AS passkey, i AS site_id FROM generate_series(1, 3000) AS i";
      const r = cli(config, 'users', 'import', '--from-url', url, '--from-sql', query, '--skip-invalid');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /imported 2994 users \(2994 new, 0 replaced\)/);
      assert.match(r.stderr, /skipped 6 invalid rows/);
      assert.deepEqual(summary(r.stderr, 'users import'), { rows: 2994, rejects: 6 }, r.stderr);
    } finally {
      await schema.drop();
    }
  });

  it('recover, then serve: both read the whole journal and count its damaged stretch', async () => {
    const { dir, config } = workspace({
      metrics_addr: '', log_level: 'info', http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, user_key_secret: '$DIR/user-key.secret',
      prehooks: [{ name: 'privtrak', options: { journal_dir: '$DIR/journal', sink: { name: 'log', path: '$DIR/deltas.ndjson' } } }],
    });
    writeJournal(join(dir, 'journal'), 4000);
    const r = cli(config, 'recover');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rebuilt the baseline checkpoint at seq 4000: .* and 4000 journal records/);
    assert.deepEqual(summary(r.stderr, 'recover'), { rows: 4000, rejects: 1 }, r.stderr);

    let out = '';
    const child = await startTracker(config, { onOutput: (text) => { out += text; } });
    child.kill('SIGTERM');
    assert.equal(await waitExit(child), 0, out);
    const line = out.split('\n').find((l) => l.includes('"msg":"journal replay: '));
    assert.ok(line, `no journal replay summary in:\n${out}`);
    const logged = JSON.parse(line) as { level: number; msg: string; progress: { task: string; rows: number; rejects: number; done: number; total: number } };
    assert.match(logged.msg, /^journal replay: 4,000 records in [\d.]+ s.*, 1 damaged stretches skipped$/);
    assert.equal(logged.level, 30, 'info');
    assert.deepEqual({ ...logged.progress, done: undefined }, { ...logged.progress, task: 'journal replay', rows: 4000, rejects: 1, done: undefined });
    assert.equal(logged.progress.done, logged.progress.total, 'the whole journal read');
  });

  it('migrate: the legacy journal records rekeyed', () => {
    const { dir, config } = workspace({
      metrics_addr: '', log_level: 'silent', http: { addr: '' }, udp: { addr: '' }, user_key_secret: '$DIR/user-key.secret',
      prehooks: [{ name: 'privtrak', options: { journal_dir: '$DIR/journal', sink: { name: 'log', path: '$DIR/deltas.ndjson' } } }],
    });
    writeLegacyJournal(join(dir, 'journal'), Array.from({ length: 3000 }, (_, i) => legacyDelta(i + 1, passkey(i % 20 + 1), 1, i + 1, 1_000 + i)));
    const r = cli(config, 'migrate');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rekeyed 20 legacy user key\(s\) \(passkeys\) to 20 user key\(s\)/);
    assert.deepEqual(summary(r.stderr, 'migrate'), { rows: 3000, rejects: 0 }, r.stderr);
  });
});
