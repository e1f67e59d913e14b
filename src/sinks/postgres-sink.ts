/**
 * The production sink: PostgreSQL through `pg`. One batch is one round trip whatever its size:
 * a single statement fed with arrays (`unnest`) whose CTEs upsert torrent and user totals,
 * write and delete baselines, log raw deltas and move the mark, atomically. Rows are
 * aggregated per (user, info_hash) before writing (aggregate.ts).
 *
 * The schema is created by `privtrak migrate`, not on start: production databases change
 * under an operator's control.
 */
import pg from 'pg';
import type { DeltaBatch } from '../middleware/privtrak/delta.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from './sink.js';
import { aggregate, type Aggregate } from './aggregate.js';
import { SCHEMA_VERSION, schemaStatements } from './sql.js';

export interface PostgresSinkOptions {
  readonly url: string;
  readonly schema: string;
  readonly deltaLog: boolean;
}

const APPLY_SQL = `
WITH m AS (SELECT applied_through FROM privtrak_batches WHERE instance = $1 FOR UPDATE),
go AS (SELECT 1 AS ok WHERE COALESCE((SELECT applied_through FROM m), 0) < $2),
t AS (
  INSERT INTO privtrak_torrent_stats AS s
    (user_id, info_hash, uploaded, downloaded, seed_time, leech_time, snatched, first_seen_ms, last_seen_ms)
  SELECT * FROM unnest($5::bytea[], $6::bytea[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::int[], $12::bigint[], $13::bigint[])
  WHERE EXISTS (SELECT 1 FROM go)
  ON CONFLICT (user_id, info_hash) DO UPDATE SET
    uploaded = s.uploaded + EXCLUDED.uploaded, downloaded = s.downloaded + EXCLUDED.downloaded,
    seed_time = s.seed_time + EXCLUDED.seed_time, leech_time = s.leech_time + EXCLUDED.leech_time,
    snatched = GREATEST(s.snatched, EXCLUDED.snatched),
    first_seen_ms = LEAST(s.first_seen_ms, EXCLUDED.first_seen_ms), last_seen_ms = GREATEST(s.last_seen_ms, EXCLUDED.last_seen_ms)),
u AS (
  INSERT INTO privtrak_user_stats AS s (user_id, uploaded, downloaded, seed_time, leech_time, first_seen_ms, last_seen_ms)
  SELECT * FROM unnest($14::bytea[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[])
  WHERE EXISTS (SELECT 1 FROM go)
  ON CONFLICT (user_id) DO UPDATE SET
    uploaded = s.uploaded + EXCLUDED.uploaded, downloaded = s.downloaded + EXCLUDED.downloaded,
    seed_time = s.seed_time + EXCLUDED.seed_time, leech_time = s.leech_time + EXCLUDED.leech_time,
    first_seen_ms = LEAST(s.first_seen_ms, EXCLUDED.first_seen_ms), last_seen_ms = GREATEST(s.last_seen_ms, EXCLUDED.last_seen_ms)),
k AS (
  INSERT INTO privtrak_peers AS p (instance, user_id, info_hash, peer_id, uploaded, downloaded, left_bytes, last_ms)
  SELECT $1, * FROM unnest($21::bytea[], $22::bytea[], $23::bytea[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bigint[])
  WHERE EXISTS (SELECT 1 FROM go)
  ON CONFLICT (instance, user_id, info_hash, peer_id) DO UPDATE SET
    uploaded = EXCLUDED.uploaded, downloaded = EXCLUDED.downloaded, left_bytes = EXCLUDED.left_bytes, last_ms = EXCLUDED.last_ms),
d AS (
  DELETE FROM privtrak_peers p USING unnest($28::bytea[], $29::bytea[], $30::bytea[]) AS x(user_id, info_hash, peer_id)
  WHERE EXISTS (SELECT 1 FROM go) AND p.instance = $1 AND p.user_id = x.user_id AND p.info_hash = x.info_hash AND p.peer_id = x.peer_id),
l AS (
  INSERT INTO privtrak_delta_log (instance, seq, user_id, info_hash, peer_id, ip, port, event, uploaded, downloaded,
    left_bytes, delta_up, delta_down, seed_time, leech_time, snatch, flags, time_ms)
  SELECT $1, * FROM unnest($31::bigint[], $32::bytea[], $33::bytea[], $34::bytea[], $35::text[], $36::int[], $37::text[], $38::bigint[],
    $39::bigint[], $40::bigint[], $41::bigint[], $42::bigint[], $43::bigint[], $44::bigint[], $45::int[], $46::int[], $47::bigint[])
  WHERE EXISTS (SELECT 1 FROM go))
INSERT INTO privtrak_batches (instance, applied_through, applied_at_ms)
SELECT $1, $3, $4 WHERE EXISTS (SELECT 1 FROM go)
ON CONFLICT (instance) DO UPDATE SET applied_through = EXCLUDED.applied_through, applied_at_ms = EXCLUDED.applied_at_ms
RETURNING applied_through`;

function applyParams(instance: string, agg: Aggregate, first: number, deltaLog: boolean): unknown[] {
  const t = agg.torrents;
  const u = agg.users;
  const keep = agg.peers.filter((p) => p.baseline !== null);
  const drop = agg.peers.filter((p) => p.baseline === null);
  const d = deltaLog ? agg.applied : [];
  const str = (n: number) => String(n);
  return [
    instance, str(first), str(agg.through), str(Date.now()),
    t.map((r) => r.user), t.map((r) => r.infoHash), t.map((r) => str(r.uploaded)), t.map((r) => str(r.downloaded)),
    t.map((r) => str(r.seedTime)), t.map((r) => str(r.leechTime)), t.map((r) => r.snatched), t.map((r) => str(r.firstMs)), t.map((r) => str(r.lastMs)),
    u.map((r) => r.user), u.map((r) => str(r.uploaded)), u.map((r) => str(r.downloaded)), u.map((r) => str(r.seedTime)),
    u.map((r) => str(r.leechTime)), u.map((r) => str(r.firstMs)), u.map((r) => str(r.lastMs)),
    keep.map((p) => p.user), keep.map((p) => p.infoHash), keep.map((p) => p.peerId), keep.map((p) => str(p.baseline!.uploaded)),
    keep.map((p) => str(p.baseline!.downloaded)), keep.map((p) => str(p.baseline!.left)), keep.map((p) => str(p.baseline!.lastMs)),
    drop.map((p) => p.user), drop.map((p) => p.infoHash), drop.map((p) => p.peerId),
    d.map((x) => str(x.seq)), d.map((x) => x.user), d.map((x) => x.infoHash), d.map((x) => x.peerId), d.map((x) => x.ip),
    d.map((x) => x.port), d.map((x) => x.event), d.map((x) => str(x.uploaded)), d.map((x) => str(x.downloaded)), d.map((x) => str(x.left)),
    d.map((x) => str(x.deltaUp)), d.map((x) => str(x.deltaDown)), d.map((x) => str(x.seedTime)), d.map((x) => str(x.leechTime)),
    d.map((x) => (x.snatch ? 1 : 0)), d.map((x) => x.flags), d.map((x) => str(x.timeMs)),
  ];
}

// BIGINT comes back as a string by default; totals want exact bigints.
const BIGINT_OID = 20;

export class PostgresSink implements DeltaSink {
  readonly name = 'postgres';
  private pool: pg.Pool | undefined;

  constructor(private readonly opts: PostgresSinkOptions) {}

  private getPool(): pg.Pool {
    if (!this.pool) {
      this.pool = new pg.Pool({
        connectionString: this.opts.url,
        max: 2,
        connectionTimeoutMillis: 5000,
        options: `-c search_path=${this.opts.schema}`,
        types: { getTypeParser: ((oid: number, format?: string) => (oid === BIGINT_OID ? (v: string) => v : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
      });
      // An idle client losing its connection must not crash the tracker; the next query reconnects.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  async open(): Promise<void> {
    const r = await this.getPool().query(`SELECT to_regclass('privtrak_batches') IS NOT NULL AS ok`);
    if (!r.rows[0].ok) {
      throw new Error(`postgres sink: schema "${this.opts.schema}" has no privtrak tables: run \`privtrak migrate --config FILE\` first`);
    }
  }

  async migrate(): Promise<void> {
    const client = await this.getPool().connect();
    try {
      await client.query('BEGIN');
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.Client.prototype.escapeIdentifier(this.opts.schema)}`);
      for (const sql of schemaStatements('postgres')) await client.query(sql);
      await client.query(`INSERT INTO privtrak_schema_version (version) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM privtrak_schema_version)`, [SCHEMA_VERSION]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * One round trip: a single statement (its own transaction) whose data-modifying CTEs write
   * every table, guarded by the instance's mark. If the mark is already at or past the batch's
   * first seq (a retry after an apply whose reply was lost), nothing is written; the rare partial
   * overlap is re-aggregated above the mark and sent again.
   */
  async apply(batch: DeltaBatch): Promise<void> {
    let mark = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const agg = aggregate(batch.deltas, mark);
      if (agg.applied.length === 0) return;
      const first = agg.applied[0]!.seq;
      const r = await this.getPool().query(APPLY_SQL, applyParams(batch.instance, agg, first, this.opts.deltaLog));
      if (r.rowCount === 1) return;
      const m = await this.getPool().query('SELECT applied_through FROM privtrak_batches WHERE instance = $1', [batch.instance]);
      mark = Number(m.rows[0]?.applied_through ?? 0);
    }
    throw new Error('postgres sink: batch kept overlapping a concurrently moving mark');
  }

  async load(instance: string, sinceMs: number): Promise<SinkState> {
    const pool = this.getPool();
    const m = await pool.query('SELECT applied_through FROM privtrak_batches WHERE instance = $1', [instance]);
    const rows = await pool.query(`SELECT user_id, info_hash, peer_id, uploaded, downloaded, left_bytes, last_ms
      FROM privtrak_peers WHERE instance = $1 AND last_ms >= $2`, [instance, String(sinceMs)]);
    return {
      appliedThrough: m.rows.length ? Number(m.rows[0].applied_through) : 0,
      baselines: rows.rows.map((r) => ({
        user: r.user_id, infoHash: r.info_hash, peerId: r.peer_id,
        baseline: { uploaded: Number(r.uploaded), downloaded: Number(r.downloaded), left: Number(r.left_bytes), lastMs: Number(r.last_ms) },
      })),
    };
  }

  async expireBaselines(instance: string, cutoffMs: number): Promise<number> {
    const r = await this.getPool().query('DELETE FROM privtrak_peers WHERE instance = $1 AND last_ms < $2', [instance, String(cutoffMs)]);
    return r.rowCount ?? 0;
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    const args = query.user ? [query.user] : [];
    const sql = query.byTorrent
      ? `SELECT user_id, info_hash, uploaded, downloaded, seed_time, leech_time, snatched::bigint AS snatched
         FROM privtrak_torrent_stats ${query.user ? 'WHERE user_id = $1' : ''} ORDER BY user_id, info_hash`
      : `SELECT u.user_id, u.uploaded, u.downloaded, u.seed_time, u.leech_time,
           (SELECT count(*) FROM privtrak_torrent_stats s WHERE s.user_id = u.user_id AND s.snatched > 0) AS snatched
         FROM privtrak_user_stats u ${query.user ? 'WHERE u.user_id = $1' : ''} ORDER BY u.user_id`;
    const r = await this.getPool().query(sql, args);
    return r.rows.map((row) => ({
      user: row.user_id,
      infoHash: query.byTorrent ? row.info_hash : undefined,
      uploaded: BigInt(row.uploaded),
      downloaded: BigInt(row.downloaded),
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
