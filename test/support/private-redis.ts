/**
 * A redis-server of the test's own on a free loopback port (no persistence unless asked), so a
 * test can kill Redis or measure its CPU without touching the shared server. Debian's
 * redis-server provides it; in CI its absence fails the test, elsewhere the test is skipped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './tracker-process.js';

const SERVER = '/usr/bin/redis-server';

export class PrivateRedis {
  private proc: ChildProcess | undefined;
  private constructor(readonly dir: string, readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  static async create(t: { skip(msg: string): void }, port?: number): Promise<PrivateRedis | undefined> {
    if (!existsSync(SERVER)) {
      if (process.env['CI'] === 'true') throw new Error(`${SERVER} is missing: required in CI`);
      t.skip(`${SERVER} is missing`);
      return undefined;
    }
    const r = new PrivateRedis(mkdtempSync(join(tmpdir(), 'privtrak-redis-')), port ?? await freePort());
    await r.start();
    return r;
  }

  /** Starts redis-server and waits until it answers PING (at most 10 s). */
  async start(): Promise<void> {
    this.proc = spawn(SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined); // the failure is the connect() rejection
      try {
        await c.connect();
        await c.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        c.disconnect();
      }
    }
  }

  /** SIGKILL: the server vanishes mid-whatever, as a crashed Redis would. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p === undefined || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
