/**
 * The production sink: PostgreSQL through `pg` (a Pool of at most 2 connections).
 *
 * Round trips per batch: ONE in the normal case. The whole batch is a single statement (so a
 * single implicit transaction) fed with arrays through `unnest`: its first CTE moves the
 * instance's mark (applied_through), and only if that succeeded do the other CTEs upsert the
 * torrent and user totals and log raw deltas. pg sends
 * Parse/Bind/Execute/Sync in one write, so that is one network round trip whatever the batch
 * size (measured: one query for a 1000-delta batch). A retry entirely at or below the stored
 * mark also costs one (the statement writes nothing); a retry that partly overlaps it costs two
 * (the first statement reports the mark, the batch is re-aggregated above it and sent again).
 * An empty batch costs none.
 *
 * The schema is created by `privtrak migrate`, not on start: production databases change
 * under an operator's control.
 */
import pg from 'pg';
import type { BatchFence, DeltaBatch } from '../accounting/delta.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from './sink.js';
import { aggregateBatch, type Aggregate } from './aggregate.js';
import { LEGACY_SCHEMA_VERSION, SCHEMA_VERSION, schemaStatements, totalsSql } from './sql-schema.js';
import { LEGACY_USERS_SQL, rekeyMapTableSql, rekeyStatements } from './sql-rekey.js';
import { LegacyDataError, mapAll, type Rekey } from '../accounting/legacy-data.js';
import { SinkSchemaError, SinkUnreachableError, redactUrl as redact, staleFence } from './sink-errors.js';

export interface PostgresSinkOptions {
  readonly url: string;
  /** The schema holding the tables (search_path). Default `public`. */
  readonly schema?: string;
  /** Also write every applied delta to privtrak_delta_log. Default false. */
  readonly deltaLog?: boolean;
  /**
   * Deadline of one query, ms (default 30,000). A server that stops answering (packets dropped,
   * no RST) would otherwise hold the flush forever; past it the query fails, the pool destroys
   * that client, and the batch is retried on a new connection. If the server had committed
   * before the answer was lost, the retry finds the mark moved and applies nothing twice.
   */
  readonly timeoutMs?: number;
}

/**
 * The mark first: `go` inserts or moves the instance's row in privtrak_batches, but only if
 * the recorded mark is below the batch's first new seq ($2). INSERT ... ON CONFLICT DO UPDATE
 * locks the row (the `SELECT ... FOR UPDATE` of a multi-statement transaction) and evaluates
 * its WHERE against the latest committed version, so even two trackers misconfigured with the
 * same instance name cannot both apply a batch. Every other write runs only if `go` returned a
 * row; a CHECK violation anywhere aborts the whole statement, mark included.
 *
 * The outer SELECT reads the table through the statement's snapshot, i.e. the mark as it was
 * before this statement: when nothing was applied it tells the caller where to resume.
 *
 * A fenced batch (DeltaBatch.fence: $46 name, $47 token; both null without) goes through `f`
 * before everything: it records the token unless a higher one is recorded, and `go` (so
 * everything) runs only if `f` returned a row. ON CONFLICT DO UPDATE locks the fence row and
 * re-checks its WHERE against the latest committed token, so of two drainers racing, the stale
 * one waits and is then refused. Fence, mark and totals are one statement: one transaction.
 */
const APPLY_SQL = `
WITH f AS (
  INSERT INTO privtrak_fences AS fe (name, token) SELECT $46::text, $47::bigint WHERE $46::text IS NOT NULL
  ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token WHERE fe.token <= EXCLUDED.token
  RETURNING 1 AS ok),
go AS (
  INSERT INTO privtrak_batches AS b (instance, applied_through, applied_at_ms) SELECT $1::text, $3::bigint, $4::bigint
  WHERE $46::text IS NULL OR EXISTS (SELECT 1 FROM f)
  ON CONFLICT (instance) DO UPDATE SET applied_through = EXCLUDED.applied_through, applied_at_ms = EXCLUDED.applied_at_ms
  WHERE b.applied_through < $2
  RETURNING 1 AS ok),
t AS (
  INSERT INTO privtrak_torrent_stats AS s
    (user_id, info_hash, uploaded, downloaded, raw_uploaded, raw_downloaded, site_torrent_id, seed_time, leech_time, snatched, first_seen_ms, last_seen_ms)
  SELECT * FROM unnest($5::bytea[], $6::bytea[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
    $13::bigint[], $14::int[], $15::bigint[], $16::bigint[])
  WHERE EXISTS (SELECT 1 FROM go)
  ON CONFLICT (user_id, info_hash) DO UPDATE SET
    uploaded = s.uploaded + EXCLUDED.uploaded, downloaded = s.downloaded + EXCLUDED.downloaded,
    raw_uploaded = s.raw_uploaded + EXCLUDED.raw_uploaded, raw_downloaded = s.raw_downloaded + EXCLUDED.raw_downloaded,
    site_torrent_id = COALESCE(EXCLUDED.site_torrent_id, s.site_torrent_id),
    seed_time = s.seed_time + EXCLUDED.seed_time, leech_time = s.leech_time + EXCLUDED.leech_time,
    snatched = GREATEST(s.snatched, EXCLUDED.snatched),
    first_seen_ms = LEAST(s.first_seen_ms, EXCLUDED.first_seen_ms), last_seen_ms = GREATEST(s.last_seen_ms, EXCLUDED.last_seen_ms)),
u AS (
  INSERT INTO privtrak_user_stats AS s (user_id, uploaded, downloaded, raw_uploaded, raw_downloaded, seed_time, leech_time, first_seen_ms, last_seen_ms)
  SELECT * FROM unnest($17::bytea[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[])
  WHERE EXISTS (SELECT 1 FROM go)
  ON CONFLICT (user_id) DO UPDATE SET
    uploaded = s.uploaded + EXCLUDED.uploaded, downloaded = s.downloaded + EXCLUDED.downloaded,
    raw_uploaded = s.raw_uploaded + EXCLUDED.raw_uploaded, raw_downloaded = s.raw_downloaded + EXCLUDED.raw_downloaded,
    seed_time = s.seed_time + EXCLUDED.seed_time, leech_time = s.leech_time + EXCLUDED.leech_time,
    first_seen_ms = LEAST(s.first_seen_ms, EXCLUDED.first_seen_ms), last_seen_ms = GREATEST(s.last_seen_ms, EXCLUDED.last_seen_ms)),
l AS (
  INSERT INTO privtrak_delta_log (instance, seq, user_id, info_hash, peer_id, ip, port, event, uploaded, downloaded,
    left_bytes, delta_up, delta_down, credit_up, credit_down, site_torrent_id, seed_time, leech_time, snatch, flags, time_ms)
  SELECT $1, * FROM unnest($26::bigint[], $27::bytea[], $28::bytea[], $29::bytea[], $30::text[], $31::int[], $32::text[], $33::bigint[],
    $34::bigint[], $35::bigint[], $36::bigint[], $37::bigint[], $38::bigint[], $39::bigint[], $40::bigint[], $41::bigint[], $42::bigint[],
    $43::int[], $44::int[], $45::bigint[])
  WHERE EXISTS (SELECT 1 FROM go))
SELECT (SELECT count(*) FROM go) AS applied,
       (SELECT applied_through FROM privtrak_batches WHERE instance = $1) AS mark_before,
       (SELECT count(*) FROM f) AS fence_ok,
       (SELECT token FROM privtrak_fences WHERE name = $46) AS fence_before`;

/** Bigints travel as decimal strings: exact, and what `::bigint[]` parses. */
const str = (n: number) => String(n);

function applyParams(instance: string, agg: Aggregate, deltaLog: boolean, fence: BatchFence | undefined): unknown[] {
  const t = agg.torrents;
  const u = agg.users;
  const d = deltaLog ? agg.applied() : [];
  const first = agg.firstSeq;
  return [
    instance, str(first), str(agg.through), str(Date.now()),
    t.map((r) => r.user), t.map((r) => r.infoHash), t.map((r) => str(r.uploaded)), t.map((r) => str(r.downloaded)),
    t.map((r) => str(r.rawUploaded)), t.map((r) => str(r.rawDownloaded)), t.map((r) => (r.siteTorrentId === null ? null : str(r.siteTorrentId))),
    t.map((r) => str(r.seedTime)), t.map((r) => str(r.leechTime)), t.map((r) => r.snatched), t.map((r) => str(r.firstMs)), t.map((r) => str(r.lastMs)),
    u.map((r) => r.user), u.map((r) => str(r.uploaded)), u.map((r) => str(r.downloaded)), u.map((r) => str(r.rawUploaded)),
    u.map((r) => str(r.rawDownloaded)), u.map((r) => str(r.seedTime)), u.map((r) => str(r.leechTime)), u.map((r) => str(r.firstMs)), u.map((r) => str(r.lastMs)),
    d.map((x) => str(x.seq)), d.map((x) => x.user), d.map((x) => x.infoHash), d.map((x) => x.peerId), d.map((x) => x.ip),
    d.map((x) => x.port), d.map((x) => x.event), d.map((x) => str(x.uploaded)), d.map((x) => str(x.downloaded)), d.map((x) => str(x.left)),
    d.map((x) => str(x.deltaUp)), d.map((x) => str(x.deltaDown)), d.map((x) => str(x.creditUp)), d.map((x) => str(x.creditDown)),
    d.map((x) => (x.siteTorrentId === null ? null : str(x.siteTorrentId))), d.map((x) => str(x.seedTime)), d.map((x) => str(x.leechTime)),
    d.map((x) => (x.snatch ? 1 : 0)), d.map((x) => x.flags), d.map((x) => str(x.timeMs)),
    fence?.name ?? null, fence === undefined ? null : str(fence.token),
  ];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class PostgresSink implements DeltaSink {
  readonly name = 'postgres';
  private pool: pg.Pool | undefined;
  private readonly schema: string;
  private readonly deltaLog: boolean;

  constructor(private readonly opts: PostgresSinkOptions) {
    this.schema = opts.schema ?? 'public';
    this.deltaLog = opts.deltaLog ?? false;
    if (!IDENTIFIER.test(this.schema)) throw new Error(`postgres sink: schema "${this.schema}" must be a plain SQL identifier`);
  }

  private getPool(): pg.Pool {
    if (!this.pool) {
      this.pool = new pg.Pool({
        connectionString: this.opts.url,
        max: 2,
        connectionTimeoutMillis: Math.min(10_000, this.opts.timeoutMs ?? 30_000),
        query_timeout: this.opts.timeoutMs ?? 30_000,
        // BIGINT comes back as a decimal string (pg's default): totals turn it into an exact bigint.
        options: `-c search_path=${this.schema}`,
      });
      // An idle client losing its connection must not crash the tracker; the next query reconnects.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  async open(): Promise<void> {
    let r: pg.QueryResult;
    try {
      r = await this.getPool().query(`SELECT to_regclass('privtrak_batches') IS NOT NULL AS tables,
        to_regclass('privtrak_schema_version') IS NOT NULL AS versioned`);
    } catch (err) {
      throw new SinkUnreachableError(`postgres sink: cannot reach ${redact(this.opts.url)}: ${(err as Error).message}`, { cause: err });
    }
    if (!r.rows[0].tables || !r.rows[0].versioned) {
      throw new SinkSchemaError(`postgres sink: schema "${this.schema}" has no privtrak tables: run \`privtrak migrate\` (with the same config) first`);
    }
    const v = await this.getPool().query('SELECT max(version) AS v FROM privtrak_schema_version');
    const version = Number(v.rows[0].v ?? 0);
    if (version === 1) throw new LegacyDataError(`the postgres sink's schema "${this.schema}"`);
    if (version < SCHEMA_VERSION) {
      throw new SinkSchemaError(`postgres sink: schema "${this.schema}" is at version ${version}, this privtrak needs ${SCHEMA_VERSION}: run \`privtrak migrate\``);
    }
    if (version > SCHEMA_VERSION) {
      throw new SinkSchemaError(`postgres sink: schema "${this.schema}" is at version ${version}, newer than this privtrak (${SCHEMA_VERSION}): upgrade privtrak`);
    }
  }

  /**
   * Creates the schema and tables (CREATE ... IF NOT EXISTS) and records the version; upgrades
   * schema 1 (sink.ts: legacy rows are rekeyed, in the same transaction). Idempotent.
   */
  async migrate(rekey?: Rekey): Promise<void> {
    const client = await this.getPool().connect();
    try {
      await client.query('BEGIN');
      // Serializes concurrent migrations (two `privtrak migrate` at once).
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('privtrak_migrate'))`);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(this.schema)}`);
      for (const sql of schemaStatements('postgres')) await client.query(sql);
      const v = (await client.query('SELECT max(version) AS v FROM privtrak_schema_version')).rows[0].v as number | null;
      if (v !== null && v > SCHEMA_VERSION) throw new Error(`postgres sink: schema "${this.schema}" is at version ${v}, newer than this privtrak (${SCHEMA_VERSION}): upgrade privtrak`);
      // Schema 2 -> 3 only adds privtrak_fences (created above); schema 1 holds passkeys.
      if (v !== null && v < LEGACY_SCHEMA_VERSION) await this.rekeyLegacy(client, rekey);
      await client.query('INSERT INTO privtrak_schema_version (version) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM privtrak_schema_version WHERE version >= $1)', [SCHEMA_VERSION]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Schema 1: rows keyed by passkeys (sql-rekey.ts), inside migrate's transaction. */
  private async rekeyLegacy(client: pg.PoolClient, rekey: Rekey | undefined): Promise<void> {
    const legacy = (await client.query(LEGACY_USERS_SQL)).rows.map((r: { user_id: Buffer }) => r.user_id);
    if (legacy.length === 0) return;
    const where = `the postgres sink's schema "${this.schema}"`;
    if (rekey === undefined) throw new LegacyDataError(where);
    const map = mapAll(where, legacy, rekey);
    await client.query(rekeyMapTableSql('postgres'));
    await client.query('INSERT INTO privtrak_rekey (old_id, new_id) SELECT * FROM unnest($1::bytea[], $2::bytea[])',
      [legacy, legacy.map((k) => map.get(k.toString('latin1')))]);
    for (const sql of rekeyStatements('postgres')) await client.query(sql);
  }

  async apply(batch: DeltaBatch): Promise<void> {
    let mark = 0;
    // Attempt 1 assumes nothing of the batch is applied yet (the common case); if the stored mark
    // says otherwise, re-aggregate above it. A third attempt only happens if the mark moved in
    // between, i.e. another writer uses the same instance name.
    for (let attempt = 0; attempt < 3; attempt++) {
      const agg = aggregateBatch(batch, mark);
      if (agg.count === 0) return;
      const r = await this.getPool().query(APPLY_SQL, applyParams(batch.instance, agg, this.deltaLog, batch.fence));
      const row = r.rows[0] as { applied: string; mark_before: string | null; fence_ok: string; fence_before: string | null };
      if (batch.fence !== undefined && Number(row.fence_ok) === 0) throw staleFence('postgres', batch.fence, Number(row.fence_before));
      if (Number(row.applied) === 1) return;
      const seen = Number(row.mark_before ?? 0);
      mark = seen > mark ? seen : Number((await this.readMark(batch.instance)) ?? 0);
    }
    throw new Error(`postgres sink: the mark of instance "${batch.instance}" keeps moving: is another tracker using the same instance name?`);
  }

  private async readMark(instance: string): Promise<string | undefined> {
    const m = await this.getPool().query('SELECT applied_through FROM privtrak_batches WHERE instance = $1', [instance]);
    return m.rows[0]?.applied_through;
  }

  async load(instance: string): Promise<SinkState> {
    return { appliedThrough: Number((await this.readMark(instance)) ?? 0) };
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    const args = query.user ? [query.user] : [];
    const sql = totalsSql(query, '$1');
    const r = await this.getPool().query(sql, args);
    return r.rows.map((row) => ({
      user: row.user_id,
      infoHash: query.byTorrent ? row.info_hash : undefined,
      uploaded: BigInt(row.uploaded),
      downloaded: BigInt(row.downloaded),
      rawUploaded: BigInt(row.raw_uploaded),
      rawDownloaded: BigInt(row.raw_downloaded),
      siteTorrentId: query.byTorrent ? (row.site_torrent_id === null ? null : BigInt(row.site_torrent_id)) : undefined,
      seedTime: BigInt(row.seed_time),
      leechTime: BigInt(row.leech_time),
      snatched: BigInt(row.snatched),
    }));
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}
