/**
 * Nothing lost, nothing counted twice: simulated clients (several users, several clients per
 * user, sessions with stops and restarts, completions, late duplicate announces) announce to
 * a privtrak process that is killed with SIGKILL at random moments and restarted. Every
 * announce that fails is retried until it succeeds, as real clients do. Several clients announce
 * at once, so a kill can land while a commit group of several announces is being written or
 * answered, and checkpoints run every 300 ms, so kills also land mid-checkpoint. At the end the
 * sink's totals must equal the exact sums of what the clients reported.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { escapeBytes } from '../support/http-client.js';
import { freePort, MAIN, startTracker, waitExit } from '../support/tracker-process.js';
import { postgresUrlOrSkip, freshSchema } from '../support/postgres.js';
import { hashedPasskeyKey } from '../../src/accounting/user-key.js';
import { prng } from '../support/prng.js';

interface Client {
  user: string;
  peerId: Buffer;
  infoHash: Buffer;
  size: number;
  active: boolean;
  up: number;
  down: number;
  completed: boolean;
  /** The last announce that succeeded, replayed later as a late duplicate. */
  last?: string;
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Announces until the tracker accepts it (it may be dead or restarting), bounded in time. */
async function announceUntilAccepted(port: number, path: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const body = await get(port, path);
      if (!body.includes('failure reason')) return;
      if (!/tracker (busy|closing)/.test(body)) throw new Error(`refused: ${body}`);
    } catch (err) {
      if ((err as Error).message.startsWith('refused')) throw err;
    }
    if (Date.now() > deadline) throw new Error(`announce not accepted within 30 s: ${path}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function announcePath(c: Client, event: string): string {
  const left = Math.max(0, c.size - c.down);
  return `/${c.user}/announce?info_hash=${escapeBytes(c.infoHash)}&peer_id=${escapeBytes(c.peerId)}&port=6881`
    + `&uploaded=${c.up}&downloaded=${c.down}&left=${left}${event ? `&event=${event}` : ''}`;
}

async function simulate(sinkYaml: string, seed: number, migrate = false): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-crash-'));
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, [
    'log_level: info', // startTracker waits for the "privtrak started" line
    'metrics_addr: ""',
    `http: {addr: "127.0.0.1:${port}"}`,
    'udp: {addr: ""}',
    `user_key_secret: ${JSON.stringify(join(dir, 'user-key.secret'))}`,
    'prehooks:',
    '  - name: privtrak',
    '    options:',
    `      journal_dir: ${JSON.stringify(join(dir, 'journal'))}`,
    '      flush_interval: 100ms',
    '      batch_size: 7',
    '      checkpoint_interval: 300ms', // checkpoints during the run, so kills also land mid-checkpoint
    `      sink: ${sinkYaml.replace('$DIR', dir)}`,
  ].join('\n'));
  if (migrate) {
    const m = spawnSync(process.execPath, [MAIN, 'migrate', '--config', configPath], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(m.status, 0, m.stderr);
  }
  const random = prng(seed);
  const users = ['0123456789abcdef0123456789abcdef', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '5555555555555555ffffffffffffffff'];
  const torrents = [Buffer.alloc(20, 0x01), Buffer.alloc(20, 0xfe), Buffer.from('5afae1524e05072ba34fd3e8c6ede4c154c74bc2', 'hex')];
  const clients: Client[] = [];
  for (const user of users) {
    for (let n = 0; n < 2; n++) {
      for (const infoHash of torrents) {
        clients.push({
          user, infoHash, size: 1_000_000 + Math.floor(random() * 1e6), active: false, up: 0, down: 0, completed: false,
          peerId: Buffer.from(`-qB4520-${user.slice(0, 4)}${n}${infoHash[0]!.toString(16).padStart(2, '0')}abcde`),
        });
      }
    }
  }
  // Expected totals per user: every byte a client reports in a session, once.
  const expected = new Map<string, { up: bigint; down: bigint; snatched: Set<string> }>();
  for (const u of users) expected.set(u, { up: 0n, down: 0n, snatched: new Set() });
  const sessionBase = new Map<Client, { up: number; down: number }>();

  let tracker: ChildProcess = await startTracker(configPath);
  let kills = 0;
  let stopKiller = false;
  const killer = (async () => {
    while (!stopKiller && kills < 5) {
      await new Promise((r) => setTimeout(r, 150 + random() * 350));
      if (stopKiller) break;
      tracker.kill('SIGKILL');
      await waitExit(tracker);
      kills++;
      tracker = await startTracker(configPath);
    }
  })();

  const began = Date.now();
  let steps = 0;
  // One client's announces are sequential, as in a real client; WORKERS clients announce at once,
  // so the tracker's commit groups hold several announces when a kill lands.
  const worker = async (mine: Client[]): Promise<void> => {
    while (steps < 20_000 && (kills < 5 || steps < 400) && Date.now() - began < 60_000) {
      steps++;
      const c = mine[Math.floor(random() * mine.length)]!;
      let event = '';
      const roll = random();
      if (!c.active) {
        c.active = true;
        c.up = 0;
        c.down = 0;
        c.last = undefined;
        event = 'started';
        sessionBase.set(c, { up: 0, down: 0 });
      } else if (roll < 0.1) {
        event = 'stopped';
      } else if (roll < 0.15 && c.last) {
        // A late duplicate of an earlier plain announce: must be credited nothing.
        await announceUntilAccepted(port, c.last);
        continue;
      } else {
        c.up += Math.floor(random() * 50_000);
        if (!c.completed) c.down = Math.min(c.size, c.down + Math.floor(random() * 300_000));
        if (!c.completed && c.down === c.size) {
          event = 'completed';
          c.completed = true;
          expected.get(c.user)!.snatched.add(c.infoHash.toString('hex'));
        }
      }
      const path = announcePath(c, event);
      const e = expected.get(c.user)!;
      const base = sessionBase.get(c)!;
      e.up += BigInt(c.up - base.up);
      e.down += BigInt(c.down - base.down);
      sessionBase.set(c, { up: c.up, down: c.down });
      if (event === 'stopped') c.active = false;
      if (event === '') c.last = path;
      await announceUntilAccepted(port, path);
    }
  };
  const WORKERS = 6;
  try {
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(clients.filter((_, i) => i % WORKERS === w))));
  } catch (err) {
    stopKiller = true;
    await killer.catch(() => undefined);
    tracker.kill('SIGKILL');
    throw err;
  }
  stopKiller = true;
  await killer;
  try {
    assert.ok(kills >= 5, `the tracker was killed ${kills} times`);
  } finally {
    tracker.kill('SIGTERM');
  }
  assert.equal(await waitExit(tracker), 0);

  const stats = spawnSync(process.execPath, [MAIN, 'stats', '--config', configPath, '--json'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(stats.status, 0, stats.stderr);
  const rows = stats.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { user: string; uploaded: number; downloaded: number; snatched: number });
  // Open mode: users are keyed hashes of their passkeys, under the secret the first start made.
  const secret = readFileSync(join(dir, 'user-key.secret'));
  for (const u of users) {
    const row = rows.find((r) => r.user === hashedPasskeyKey(secret, u).toString('hex'));
    const e = expected.get(u)!;
    assert.ok(row, `no totals for ${u}`);
    assert.deepEqual(
      { up: BigInt(row.uploaded), down: BigInt(row.downloaded), snatched: row.snatched },
      { up: e.up, down: e.down, snatched: e.snatched.size },
      `user ${u} after ${kills} SIGKILLs (seed ${seed})`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A new seed each run (more schedules over time); CRASH_SEED=n replays the run a failure names. */
function seedFor(t: { diagnostic(msg: string): void }): number {
  const seed = process.env['CRASH_SEED'] !== undefined ? Number(process.env['CRASH_SEED']) : Date.now() % 1_000_000_007;
  t.diagnostic(`seed ${seed} (CRASH_SEED=${seed} to replay)`);
  return seed;
}

describe('crash recovery: SIGKILL at random moments', { timeout: 180_000 }, () => {
  it('SQLite sink: totals equal the exact expected sums', async (t) => {
    await simulate('{name: sqlite, path: "$DIR/privtrak.sqlite"}', seedFor(t));
  });

  it('PostgreSQL sink: totals equal the exact expected sums', async (t) => {
    const url = await postgresUrlOrSkip(t);
    if (url === undefined) return;
    const schema = await freshSchema(url);
    try {
      await simulate(`{name: postgres, url: "${url}", schema: "${schema.name}"}`, seedFor(t), true);
    } finally {
      await schema.drop();
    }
  });
});
