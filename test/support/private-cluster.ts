/**
 * A three-master Redis Cluster of the test's own: three redis-server processes with
 * cluster-enabled on free loopback ports, joined with `redis-cli --cluster create`. Debian's
 * redis-server and redis-cli provide both; in CI their absence fails the test, elsewhere it skips.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './tracker-process.js';

const SERVER = '/usr/bin/redis-server';
const CLI = '/usr/bin/redis-cli';

export class PrivateCluster {
  private readonly procs: ChildProcess[] = [];
  private constructor(readonly dir: string, readonly ports: number[]) {}

  /** "127.0.0.1:port" of every master: the seeds for storage.config.cluster_nodes. */
  get nodes(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  static async create(t: { skip(msg: string): void }): Promise<PrivateCluster | undefined> {
    const missing = [SERVER, CLI].filter((p) => !existsSync(p));
    if (missing.length > 0) {
      const why = `Redis programs are missing (${missing.join(', ')})`;
      if (process.env['CI'] === 'true') throw new Error(`${why}: required in CI`);
      t.skip(why);
      return undefined;
    }
    const ports = [await freePort(), await freePort(), await freePort()];
    const c = new PrivateCluster(mkdtempSync(join(tmpdir(), 'privtrak-cluster-')), ports);
    try {
      await c.start();
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  private async start(): Promise<void> {
    for (const port of this.ports) {
      const dir = join(this.dir, String(port));
      mkdirSync(dir);
      this.procs.push(spawn(SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
    }
    for (const port of this.ports) await waitFor(async () => (await once(port, (r) => r.ping())) === 'PONG', `node ${port}`);
    const create = spawnSync(CLI, ['--cluster', 'create', ...this.nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const port of this.ports) {
      await waitFor(async () => /cluster_state:ok/.test((await once(port, (r) => r.cluster('INFO') as Promise<string>)) ?? ''), `cluster state on ${port}`);
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.procs.map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    })));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function once<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T | undefined> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined); // the failure is the rejection
  try {
    await r.connect();
    return await fn(r);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
