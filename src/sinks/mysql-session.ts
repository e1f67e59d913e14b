/**
 * The MySQL sink's one connection: operations run one at a time, each within a deadline.
 *
 * One connection, not a pool: the flusher applies one batch at a time, and a transaction must
 * not share its connection with anything else (two operations interleaved on one connection would
 * run inside each other's transaction), so operations are queued here.
 *
 * The deadline is why this file exists. A server that stops answering (a network partition: the
 * packets vanish, no RST) leaves a query waiting forever, and the flusher with it: the backlog
 * would grow to max_pending with the sink never reporting a failure. Each operation (connect
 * included) gets `timeoutMs`; past it the connection is destroyed, the operation rejects with
 * SinkTimeoutError, and the next one connects afresh. A fatal error (connection lost, reset)
 * drops the connection the same way.
 *
 * The server side of a connection we abandoned may live on (it never saw our FIN) holding the
 * row lock on the instance's mark until it notices. `wait_timeout` (the session's idle limit: a
 * transaction waiting for its next statement is idle) bounds that to twice the deadline, and
 * `innodb_lock_wait_timeout` (half the deadline) makes a new transaction waiting on that lock fail
 * with InnoDB's error instead of waiting InnoDB's 50 s. Connections idle longer than half of wait_timeout are replaced
 * before use rather than found closed by the server.
 */
import mysql from 'mysql2/promise';
import { SinkTimeoutError, SinkUnreachableError, redactUrl } from './sink-errors.js';

export interface MysqlSessionOptions {
  /** mysql:// or mariadb:// URL (with the database). */
  readonly url: string;
  /** Deadline of one operation (connect + statements), ms. */
  readonly timeoutMs: number;
}

export type Conn = mysql.Connection;

/** The mysql2 options: BIGINT and DECIMAL come back as decimal strings (exact), never as doubles. */
function connectOptions(o: MysqlSessionOptions): mysql.ConnectionOptions {
  return {
    uri: o.url.replace(/^mariadb:/, 'mysql:'),
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectTimeout: o.timeoutMs,
    enableKeepAlive: true,
    // Several statements in one round trip: a batch's upserts, its mark and COMMIT go together.
    multipleStatements: true,
    // A query without values is sent as it is: mysql2's own format scans the whole text for
    // placeholders even when there is nothing to put in (a few % of a site writer's batch, whose
    // statements are megabytes of literals). With values, mysql2's format as before.
    queryFormat(sql: string, values: unknown, timezone?: string): string {
      if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql;
      return mysql.format(sql, values as never, false, (timezone ?? 'local') as never);
    },
  };
}

export class MysqlSession {
  private conn: Conn | undefined;
  private lastUsedMs = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private connecting: Promise<Conn> | undefined;
  /** Bumped by drop(): a connect that started before is stale when it completes. */
  private generation = 0;
  private readonly waitTimeoutS: number;

  constructor(private readonly opts: MysqlSessionOptions) {
    this.waitTimeoutS = Math.max(10, Math.ceil((2 * opts.timeoutMs) / 1000));
  }

  /** Runs `fn` on the connection after every earlier operation settled, within the deadline. */
  run<R>(fn: (conn: Conn) => Promise<R>): Promise<R> {
    const result = this.tail.then(() => this.runNow(fn));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private runNow<R>(fn: (conn: Conn) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        this.drop();
        reject(new SinkTimeoutError(`mysql sink: no answer within ${this.opts.timeoutMs} ms from ${redactUrl(this.opts.url)}; connection dropped`));
      }, this.opts.timeoutMs);
      const work = (async () => {
        const conn = await this.connection();
        if (done) return undefined as R; // the deadline passed while connecting: do nothing
        const r = await fn(conn);
        this.lastUsedMs = Date.now();
        return r;
      })();
      work.then(
        (r) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(r);
        },
        (err: unknown) => {
          // After the deadline the connection was dropped already (and another may be in use now).
          if (done) return;
          if ((err as { fatal?: boolean }).fatal === true) this.drop();
          done = true;
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** The connection, fresh enough, or a new one (callers during a connect share it: no second connection leaks). */
  private connection(): Promise<Conn> {
    if (this.conn !== undefined && Date.now() - this.lastUsedMs < (this.waitTimeoutS * 1000) / 2) return Promise.resolve(this.conn);
    if (this.conn !== undefined) this.drop(); // idle too long: the server may have closed it
    if (this.connecting === undefined) {
      const attempt = this.connect(this.generation).finally(() => {
        if (this.connecting === attempt) this.connecting = undefined;
      });
      this.connecting = attempt;
    }
    return this.connecting;
  }

  private async connect(generation: number): Promise<Conn> {
    let conn: Conn;
    try {
      conn = await mysql.createConnection(connectOptions(this.opts));
    } catch (err) {
      throw new SinkUnreachableError(`mysql sink: cannot reach ${redactUrl(this.opts.url)}: ${(err as Error).message}`, { cause: err });
    }
    // An idle connection closed by the server (or the network) emits 'error' with no query to
    // reject: without a listener that would crash the tracker. The next operation reconnects.
    conn.on('error', () => {
      if (this.conn === conn) this.conn = undefined;
      conn.destroy();
    });
    // Half the deadline: a lock wait fails with InnoDB's own error first, and the connection stays usable.
    const s = Math.max(1, Math.floor(this.opts.timeoutMs / 2000));
    // Strict mode: an over-long id or an out-of-range number fails the batch instead of being
    // silently truncated or clipped (which would bend the "exact totals" contract).
    try {
      await conn.query(`SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO',
        innodb_lock_wait_timeout = ${s}, wait_timeout = ${this.waitTimeoutS}`);
    } catch (err) {
      conn.destroy();
      throw err;
    }
    if (generation !== this.generation) {
      // Dropped while connecting (the deadline passed): nobody will use this one.
      conn.destroy();
      throw new SinkTimeoutError('mysql sink: connection abandoned at its deadline');
    }
    this.conn = conn;
    this.lastUsedMs = Date.now();
    return conn;
  }

  /** Forgets the connection and destroys it (no goodbye: the server may be gone). */
  private drop(): void {
    const conn = this.conn;
    this.conn = undefined;
    // A connect in progress belongs to the abandoned operation: the next one starts its own.
    this.generation++;
    this.connecting = undefined;
    conn?.destroy();
  }

  /** Waits for queued operations, then closes the connection politely (bounded by the deadline). */
  async close(): Promise<void> {
    await this.tail;
    const conn = this.conn;
    this.conn = undefined;
    if (conn === undefined) return;
    const timer = setTimeout(() => conn.destroy(), this.opts.timeoutMs);
    try {
      await conn.end();
    } catch {
      conn.destroy();
    } finally {
      clearTimeout(timer);
    }
  }
}
