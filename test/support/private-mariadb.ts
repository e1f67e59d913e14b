/**
 * A MariaDB server of the test's own: a fresh data directory (mariadb-install-db) and a
 * mariadbd on a free loopback port, so a test can kill and restart the database mid-flush
 * without touching the shared server other tests use. Debian's mariadb-server provides both
 * programs; in CI (CI=true) their absence fails the test, elsewhere it skips with a reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './tracker-process.js';

const INSTALL = '/usr/bin/mariadb-install-db';
const SERVER = '/usr/sbin/mariadbd';

function mysqlUid(): { uid: number; gid: number } | undefined {
  const r = spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' });
  return r.status === 0 && g.status === 0 ? { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
}

export class PrivateMariaDb {
  private proc: ChildProcess | undefined;
  private constructor(readonly dir: string, readonly port: number) {}

  /** The database `test` on this server. */
  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/test`;
  }

  /** A new server with an empty `test` database, or undefined (skipped) where MariaDB's programs are missing outside CI. */
  static async create(t: { skip(msg: string): void }): Promise<PrivateMariaDb | undefined> {
    const missing = [INSTALL, SERVER].filter((p) => !existsSync(p));
    if (missing.length > 0) {
      const why = `MariaDB's programs are missing (${missing.join(', ')})`;
      if (process.env['CI'] === 'true') throw new Error(`${why}: required in CI`);
      t.skip(why);
      return undefined;
    }
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-mariadb-'));
    const owner = process.getuid?.() === 0 ? mysqlUid() : undefined;
    if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
    const install = spawnSync(INSTALL, ['--no-defaults', `--datadir=${join(dir, 'data')}`, ...(owner ? ['--user=mysql'] : []),
      '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8', timeout: 60_000 });
    if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr || install.stdout}`);
    const db = new PrivateMariaDb(dir, await freePort());
    await db.start();
    await db.exec('CREATE DATABASE test', 'mysql');
    return db;
  }

  /** Starts mariadbd and waits until it answers. */
  async start(): Promise<void> {
    const owner = process.getuid?.() === 0 ? ['--user=mysql'] : [];
    this.proc = spawn(SERVER, ['--no-defaults', `--datadir=${join(this.dir, 'data')}`, ...owner, `--port=${this.port}`, '--bind-address=127.0.0.1',
      `--socket=${join(this.dir, 'sock')}`, `--pid-file=${join(this.dir, 'pid')}`, '--skip-log-bin', '--innodb-buffer-pool-size=128M',
      `--log-error=${join(this.dir, 'error.log')}`], { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.exec('SELECT 1', 'mysql');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`private mariadbd did not answer on port ${this.port}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Stops the server: SIGKILL (a crash: InnoDB recovers at the next start) or SIGTERM (a clean shutdown). */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    this.proc = undefined;
  }

  async restart(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  async exec(sql: string, database = 'test'): Promise<unknown> {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: this.port, user: 'root', database, connectTimeout: 2000 });
    try {
      const [rows] = await conn.query(sql);
      return rows;
    } finally {
      await conn.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
