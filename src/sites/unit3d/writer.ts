/**
 * The UNIT3D writer: the privtrak hook's sink for `site: unit3d`. It writes UNIT3D's own tables
 * as UNIT3D-Announce does (../shared/sites/README.md A.1, A.2): users' credited totals, history,
 * peers, torrents' counters, unregistered info hashes — exactly once.
 *
 * This is its front, on the announce thread: it keeps what lives there (the unregistered info
 * hashes the rules hook notes, the metrics, the reaper's timer) and hands each batch, with what the
 * announce thread knows of its peers and users (writer-side.ts), to the database half
 * (writer-core.ts: the transaction, one per batch, with the applied mark). That half runs on a
 * worker thread of its own (writer-thread.ts) unless `thread: false` asks for it in place.
 */
import type { DeltaBatch } from '../../accounting/delta.js';
import { RECORD_SIZE, encodeRecordInto } from '../../accounting/delta-record.js';
import type { AdoptedBaseline, DeltaSink, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import type { Unit3dSiteConfig } from '../config.js';
import type { SiteDeps } from '../site.js';
import type { Unit3dFacts } from './facts.js';
import type { Unregistered } from './writer-sql.js';
import { Unit3dWriterCore, type ApplyOutcome, type Unit3dWriterBackend } from './writer-core.js';
import { Unit3dWriterThread } from './writer-thread.js';
import type { WriterPriority } from '../../sinks/writer-priority.js';
import { describeRecords } from './writer-side.js';
import { SiteWriterMetrics } from './writer-metrics.js';
import type { ReapResult } from './reaper.js';

/** Unregistered (user, info_hash) pairs kept until written; more are dropped (and counted): they are a site statistic, not accounting. */
const UNREGISTERED_LIMIT = 100_000;

export interface Unit3dWriterOptions {
  /** The database half on a worker thread (the default), or in place on the caller's thread. */
  readonly thread?: boolean;
}

/** A batch's records: the flusher's, or its deltas encoded (a batch made of objects: tests, replays). */
function recordsOf(batch: DeltaBatch): Buffer {
  if (batch.records !== undefined) return batch.records;
  const out = Buffer.alloc(batch.deltas.length * RECORD_SIZE);
  batch.deltas.forEach((d, i) => encodeRecordInto(d, out, i * RECORD_SIZE));
  return out;
}

export class Unit3dWriter implements DeltaSink {
  readonly name = 'unit3d';
  private readonly backend: Unit3dWriterBackend;
  private readonly metrics: SiteWriterMetrics;
  private unregistered = new Map<string, Unregistered>();
  private reapTimer: NodeJS.Timeout | undefined;
  private reaping: Promise<unknown> | undefined;

  constructor(readonly config: Unit3dSiteConfig, readonly facts: Unit3dFacts, readonly deps: SiteDeps, opts: Unit3dWriterOptions = {}) {
    this.backend = opts.thread === false ? new Unit3dWriterCore(config, deps.peerLifetimeMs)
      : new Unit3dWriterThread({ config, peerLifetimeMs: deps.peerLifetimeMs });
    this.metrics = new SiteWriterMetrics(deps.prometheus, 'unit3d');
  }

  /** The worker thread's client, when the database half runs on one (tests, the benchmark's per-thread CPU). */
  get thread(): Unit3dWriterThread | undefined {
    return this.backend instanceof Unit3dWriterThread ? this.backend : undefined;
  }

  /** The worker thread's CPU priority (sinks/writer-priority.ts); none when the database half runs in place. */
  get writerPriority(): WriterPriority | undefined {
    return this.thread?.writerPriority;
  }

  /** An announce by a known user for an info_hash the site does not have (unregistered_info_hashes). */
  noteUnregistered(userId: number, infoHash: Buffer, nowMs: number): void {
    if (!Number.isSafeInteger(userId) || userId < 0 || infoHash.length !== 20) return;
    const key = `${userId}:${infoHash.toString('hex')}`;
    const e = this.unregistered.get(key);
    if (e !== undefined) {
      if (nowMs > e.updatedMs) e.updatedMs = nowMs;
      return;
    }
    if (this.unregistered.size >= UNREGISTERED_LIMIT) {
      this.metrics.drop('unregistered_overflow', 1);
      return;
    }
    this.unregistered.set(key, { userId, infoHash: Buffer.from(infoHash), createdMs: nowMs, updatedMs: nowMs });
  }

  /** Checks the site's tables, creates privtrak's mark table if missing, starts the reaper. */
  async open(): Promise<void> {
    await this.backend.open();
    if (this.reapTimer === undefined && this.config.reap_interval > 0) {
      this.reapTimer = setInterval(() => this.reapTick(), this.config.reap_interval);
      this.reapTimer.unref();
    }
  }

  /** The mark table is privtrak's own and made by open(); nothing else to migrate (site tables are the site's). */
  async migrate(): Promise<void> {
    await this.backend.migrate();
  }

  async load(instance: string): Promise<SinkState> {
    return this.backend.load(instance);
  }

  async apply(batch: DeltaBatch): Promise<void> {
    if ((batch.records?.length ?? batch.deltas.length) === 0) return;
    const t0 = performance.now();
    const records = recordsOf(batch);
    const unregistered = this.takeUnregistered();
    const describe = (flags: Uint32Array) => describeRecords(records, flags, this.deps.extras, this.facts);
    let outcome: ApplyOutcome;
    try {
      const thread = this.thread;
      if (thread !== undefined) outcome = await thread.applyRecords(batch.instance, records, unregistered, describe);
      else {
        const flags = new Uint32Array(records.length / RECORD_SIZE);
        outcome = await this.backend.apply({ instance: batch.instance, records, side: { flags, agents: describe(flags) }, unregistered });
      }
    } catch (err) {
      this.restoreUnregistered(unregistered);
      throw err;
    }
    if (!outcome.applied) this.restoreUnregistered(unregistered);
    for (const [table, n] of Object.entries(outcome.written)) this.metrics.wrote(table, n);
    for (const [reason, n] of Object.entries(outcome.dropped)) this.metrics.drop(reason, n);
    if (outcome.path !== undefined) this.metrics.batches.inc({ site: this.metrics.site, path: outcome.path });
    if (outcome.gone !== undefined) {
      this.deps.logger.warn({ usersGone: outcome.gone.users, torrentsGone: outcome.gone.torrents, rowsDropped: outcome.gone.rows },
        'unit3d writer: deltas name users or torrents no longer in the site; their rows are left out (credits of a gone torrent still go to the user)');
    }
    this.metrics.applySeconds.observe({ site: 'unit3d' }, (performance.now() - t0) / 1000);
  }

  /** UNIT3D-Announce's last counters of each live peer (writer-adopt.ts), for the privtrak hook's first start. */
  async adoptableBaselines(): Promise<AdoptedBaseline[]> {
    return this.backend.adoptable();
  }

  private takeUnregistered(): Unregistered[] {
    if (this.unregistered.size === 0) return [];
    const out = [...this.unregistered.values()];
    this.unregistered = new Map();
    return out;
  }

  /** Puts back pairs whose write failed, unless newer notes of the same pair came meanwhile. */
  private restoreUnregistered(rows: readonly Unregistered[]): void {
    for (const r of rows) {
      const key = `${r.userId}:${r.infoHash.toString('hex')}`;
      const e = this.unregistered.get(key);
      if (e === undefined) {
        if (this.unregistered.size < UNREGISTERED_LIMIT) this.unregistered.set(key, r);
      } else if (r.updatedMs > e.updatedMs) e.updatedMs = r.updatedMs;
    }
  }

  private reapTick(): void {
    if (this.reaping !== undefined) return;
    this.reaping = this.reap()
      .catch((err: unknown) => {
        this.metrics.reaped('failures', 1);
        this.deps.logger.warn({ err }, 'unit3d writer: reaper round failed; the next round retries');
      })
      .finally(() => { this.reaping = undefined; });
  }

  /**
   * One reaper round (reaper.ts) at `nowMs`, with the unregistered info hashes noted since the
   * last batch. Run by the timer; public so a test can run a round at a chosen time.
   */
  async reap(nowMs = Date.now()): Promise<ReapResult> {
    const unregistered = this.takeUnregistered();
    try {
      const r = await this.backend.reap(nowMs, unregistered);
      this.metrics.reaped('rounds', 1);
      this.metrics.reaped('deactivated', r.deactivated);
      this.metrics.reaped('deleted', r.deleted);
      this.metrics.wrote('unregistered_info_hashes', unregistered.length);
      return r;
    } catch (err) {
      this.restoreUnregistered(unregistered);
      throw err;
    }
  }

  /** Totals as UNIT3D holds them, for `privtrak stats` (writer-core.ts). */
  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    return this.backend.totals(query);
  }

  /** Stops the reaper (waiting for a round in progress), then closes the connection (and the writer's thread). */
  async close(): Promise<void> {
    if (this.reapTimer !== undefined) clearInterval(this.reapTimer);
    this.reapTimer = undefined;
    await this.reaping;
    await this.backend.close();
  }
}
