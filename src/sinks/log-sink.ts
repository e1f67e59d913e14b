/**
 * `log`: newline-delimited JSON, one line per applied delta, to a file of its own (never the
 * tracker's log), for piping into other systems (a queue, an audit store: `tail -F` it). Ids are
 * lowercase hex.
 *
 * Not transactional — a file cannot be atomic with its own bookkeeping. The mark
 * (appliedThrough per instance) is kept in memory and in `<path>.state` (JSON
 * {instance: appliedThrough}, replaced atomically by rename), written AFTER each append, and read
 * back at start: a restart writes nothing twice. A crash between the append and the state write
 * makes that batch appear twice after the restart: this sink is at-least-once, not
 * exactly-once. Use sqlite or postgres where exactness matters. `totals` reads the file back and sums.
 *
 * The state file is `{"version":2,"marks":{...}}`; a plain `{instance: mark}` is the state of a file
 * written before user keys (its "user" fields are passkeys): open() refuses it (LegacyDataError)
 * and `migrate(rekey)` rewrites the file (see there).
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeltaBatch, StatDelta } from '../accounting/delta.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from './sink.js';
import { aggregateBatch } from './aggregate.js';
import { FencedError } from './sink-errors.js';
import { LegacyDataError, mapAll, type Rekey } from '../accounting/legacy-data.js';

const STATE_VERSION = 2;

interface State {
  readonly legacy: boolean;
  readonly marks: Record<string, number>;
}

/** One delta as one JSON line (with its newline). Numbers stay numbers: every field is ≤ 2^53. */
export function formatDeltaLine(d: StatDelta): string {
  return `{"seq":${d.seq},"user":"${d.user.toString('hex')}","info_hash":"${d.infoHash.toString('hex')}","peer_id":"${d.peerId.toString('hex')}",`
    + `"ip":${JSON.stringify(d.ip)},"port":${d.port},"event":"${d.event}","uploaded":${d.uploaded},"downloaded":${d.downloaded},"left":${d.left},`
    + `"delta_up":${d.deltaUp},"delta_down":${d.deltaDown},"credit_up":${d.creditUp},"credit_down":${d.creditDown},"site_torrent_id":${d.siteTorrentId},`
    + `"seed_time":${d.seedTime},"leech_time":${d.leechTime},`
    + `"snatch":${d.snatch},"flags":${d.flags},"time_ms":${d.timeMs}}\n`;
}

export class LogSink implements DeltaSink {
  readonly name = 'log';
  private marks: Record<string, number> = {};

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const state = this.readState();
    if (state.legacy) throw new LegacyDataError(`the log sink's ${this.path}`);
    this.marks = state.marks;
    // Left by a migrate that stopped after its last step but before deleting it: holds passkeys.
    if (existsSync(this.backupPath)) unlinkSync(this.backupPath);
  }

  private get backupPath(): string {
    return `${this.path}.v1`;
  }

  private readState(): State {
    if (!existsSync(`${this.path}.state`)) return { legacy: false, marks: {} };
    const s = JSON.parse(readFileSync(`${this.path}.state`, 'utf8')) as Record<string, unknown>;
    if (s['version'] === STATE_VERSION && typeof s['marks'] === 'object' && s['marks'] !== null) {
      return { legacy: false, marks: s['marks'] as Record<string, number> };
    }
    return { legacy: true, marks: s as Record<string, number> };
  }

  private writeState(): void {
    writeFileSync(`${this.path}.state.tmp`, JSON.stringify({ version: STATE_VERSION, marks: this.marks }));
    renameSync(`${this.path}.state.tmp`, `${this.path}.state`);
  }

  /**
   * Rekeys a file written before user keys: every line's "user" is replaced. Crash-safe: the old
   * file is first renamed to `<path>.v1` (once), the new one is written from it and renamed into
   * place, then the state is written in its new form, and only then `.v1` (it holds passkeys) is
   * deleted. Until the state is new, running migrate again starts over from `.v1`.
   */
  async migrate(rekey?: Rekey): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const state = this.readState();
    if (!state.legacy) return;
    const where = `the log sink's ${this.path}`;
    if (rekey === undefined) throw new LegacyDataError(where);
    const from = existsSync(this.backupPath) ? this.backupPath : this.path;
    const lines = existsSync(from) ? readFileSync(from, 'utf8').split('\n').filter((l) => l !== '') : [];
    const userOf = (line: string) => (JSON.parse(line) as { user: string }).user;
    const map = mapAll(where, lines.map((l) => Buffer.from(userOf(l), 'hex')), rekey);
    if (from === this.path && lines.length > 0) renameSync(this.path, this.backupPath);
    const text = lines.map((l) => {
      const user = userOf(l);
      return l.replace(`"user":"${user}"`, `"user":"${map.get(Buffer.from(user, 'hex').toString('latin1'))!.toString('hex')}"`);
    }).join('\n');
    const tmp = `${this.path}.rekey.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, text === '' ? '' : `${text}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.marks = state.marks;
    this.writeState();
    if (existsSync(this.backupPath)) unlinkSync(this.backupPath);
  }

  async load(instance: string): Promise<SinkState> {
    return { appliedThrough: this.marks[instance] ?? 0 };
  }

  async apply(batch: DeltaBatch): Promise<void> {
    if (batch.fence !== undefined) {
      // A file cannot record a fence atomically with its lines: a paused old drainer could append
      // after its successor. The shared mode (which fences) needs a SQL sink.
      throw new FencedError(`log sink: batches with a fence (shared mode, storage: {name: redis}) need a SQL sink (sqlite, postgres or mysql); the log sink cannot refuse a stale writer`, batch.fence);
    }
    const agg = aggregateBatch(batch, this.marks[batch.instance] ?? 0);
    if (agg.count === 0) return;
    appendFileSync(this.path, agg.applied().map(formatDeltaLine).join(''));
    // <- a crash here writes this batch again after the restart (at-least-once).
    this.marks[batch.instance] = agg.through;
    this.writeState();
  }

  /** Sums the file (for `privtrak stats`). */
  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    if (!existsSync(this.path)) return [];
    const rows = new Map<string, {
      user: Buffer; infoHash?: Buffer; up: bigint; down: bigint; rawUp: bigint; rawDown: bigint; site: bigint | null;
      seed: bigint; leech: bigint; snatched: Set<string>;
    }>();
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (line === '') continue;
      const d = JSON.parse(line) as {
        user: string; info_hash: string; delta_up: number; delta_down: number; credit_up: number; credit_down: number;
        site_torrent_id: number | null; seed_time: number; leech_time: number; snatch: boolean;
      };
      if (query.user && d.user !== query.user.toString('hex')) continue;
      const key = query.byTorrent ? `${d.user}:${d.info_hash}` : d.user;
      let r = rows.get(key);
      if (!r) {
        r = {
          user: Buffer.from(d.user, 'hex'), infoHash: query.byTorrent ? Buffer.from(d.info_hash, 'hex') : undefined,
          up: 0n, down: 0n, rawUp: 0n, rawDown: 0n, site: null, seed: 0n, leech: 0n, snatched: new Set(),
        };
        rows.set(key, r);
      }
      r.up += BigInt(d.credit_up);
      r.down += BigInt(d.credit_down);
      r.rawUp += BigInt(d.delta_up);
      r.rawDown += BigInt(d.delta_down);
      if (d.site_torrent_id !== null) r.site = BigInt(d.site_torrent_id);
      r.seed += BigInt(d.seed_time);
      r.leech += BigInt(d.leech_time);
      if (d.snatch) r.snatched.add(d.info_hash);
    }
    return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => ({
      user: r.user, infoHash: r.infoHash, uploaded: r.up, downloaded: r.down, rawUploaded: r.rawUp, rawDownloaded: r.rawDown,
      siteTorrentId: query.byTorrent ? r.site : undefined, seedTime: r.seed, leechTime: r.leech, snatched: BigInt(r.snatched.size),
    }));
  }

  async close(): Promise<void> {}
}
