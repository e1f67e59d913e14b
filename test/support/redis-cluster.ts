/**
 * Private Redis servers for tests that cannot use the shared one on 127.0.0.1:6379:
 *
 * - startRedisCluster(): a three-master Redis Cluster (Debian's redis-server, no replicas) on free
 *   loopback ports, in a temp dir, joined with `redis-cli --cluster create`; resolves once every
 *   node reports cluster_state:ok.
 * - startPrivateRedis(): one redis-server with AOF on (appendfsync configurable) in a temp dir,
 *   with restart() — kill -9 or SHUTDOWN, then start again on the same port and dir — for fault
 *   tests.
 *
 * Everything started is stopped by stop() (call it in `finally` or t.after); a process exit
 * handler also kills what a crashed test left running. Where redis-server or redis-cli is not
 * installed, redisBinariesProblem() says so (tests skip outside CI, fail in CI);
 * privateRedisOrSkip() and redisClusterOrSkip() start one or skip the test in one call.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

const SERVER = process.env['PRIVTRAK_TEST_REDIS_SERVER'] ?? 'redis-server';
const CLI = process.env['PRIVTRAK_TEST_REDIS_CLI'] ?? 'redis-cli';

/** Every redis-server started here and not yet stopped: killed if the test process exits first. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Why private Redis servers cannot be started here (binaries missing), or undefined. */
export function redisBinariesProblem(): string | undefined {
  for (const bin of [SERVER, CLI]) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 });
    if (r.error !== undefined || r.status !== 0) return `${bin} is not runnable (${r.error?.message ?? `exit ${r.status}`})`;
  }
  return undefined;
}

/** Skips the test (outside CI) when the binaries are missing; returns false then. */
export function redisBinariesOrSkip(t: { skip(msg: string): void }): boolean {
  const problem = redisBinariesProblem();
  if (problem === undefined) return true;
  if (process.env['CI'] === 'true') throw new Error(`private Redis servers are required in CI: ${problem}`);
  t.skip(problem);
  return false;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A loopback port that was free a moment ago, below 55536 and, for a cluster node, with its bus
 * port (port + 10000) free too. Picked at random in [20000, 45000) to stay clear of the
 * ephemeral range that freePort() and outgoing connections use.
 */
async function freeRedisPort(withBus: boolean): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if (await portFree(port) && (!withBus || await portFree(port + 10000))) return port;
  }
  throw new Error('no free loopback port for redis-server after 200 tries');
}

/** A client for one node that fails fast (no offline queue, no reconnect). */
export function nodeClient(port: number): Redis {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  c.on('error', () => undefined);
  return c;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every 50 ms until it returns true (bounded by `ms`; errors count as "not yet"). */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms${last === '' ? '' : ` (last error: ${last})`}`);
}

async function ping(port: number): Promise<boolean> {
  const c = nodeClient(port);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } finally {
    c.disconnect();
  }
}

/** One redis-server process on `port` with `args`, its output in `<dir>/redis-<port>.log`. */
class ServerProcess {
  private proc: ChildProcess | undefined;

  constructor(readonly port: number, readonly dir: string, private readonly args: string[]) {}

  async start(): Promise<void> {
    const proc = spawn(SERVER, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--logfile', join(this.dir, `redis-${this.port}.log`), '--daemonize', 'no', ...this.args,
    ], { stdio: 'ignore' });
    this.proc = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code, signal) => reject(new Error(`redis-server on ${this.port} exited (${code ?? signal}); see ${this.dir}/redis-${this.port}.log`))));
    exited.catch(() => undefined);
    await Promise.race([until(`redis-server on ${this.port} answering PING`, 10_000, () => ping(this.port)), exited]);
  }

  /** SIGSTOP / SIGCONT: the process stays, its sockets stay open, nothing is answered (a hung server, a partition). */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.proc === undefined || this.proc.exitCode !== null) throw new Error(`redis-server on ${this.port} is not running`);
    this.proc.kill(sig);
  }

  /** kill -9 (no chance to write anything more), or SHUTDOWN (Redis's own clean stop). */
  async stop(how: 'kill' | 'shutdown'): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (how === 'kill') {
      proc.kill('SIGKILL');
    } else {
      const c = nodeClient(this.port);
      await c.connect();
      // The server closes the connection as it stops: the command's "error" is the expected outcome.
      await c.call('SHUTDOWN').catch(() => undefined);
      c.disconnect();
    }
    // A server that does not stop within 10 s is killed; the timer is cleared so it holds nobody's exit.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.proc = undefined;
  }
}

export interface RedisCluster {
  /** "127.0.0.1:PORT" of each master: the seeds for `storage.config.cluster_nodes`. */
  readonly nodes: string[];
  readonly ports: number[];
  /** Kills every node and removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts a `masters`-node Redis Cluster (default 3, no replicas) and waits for cluster_state:ok on every node. */
export async function startRedisCluster(opts: { masters?: number } = {}): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-redis-cluster-'));
  const servers: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop('kill')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freeRedisPort(true);
      servers.push(new ServerProcess(port, dir, [
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no',
      ]));
    }
    await Promise.all(servers.map((s) => s.start()));
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    const create = spawnSync(CLI, ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status ?? create.error?.message}):\n${create.stdout}${create.stderr}`);
    await until('cluster_state:ok on every node', 20_000, async () => {
      const states = await Promise.all(servers.map(async (s) => {
        const c = nodeClient(s.port);
        try {
          await c.connect();
          return String(await c.call('CLUSTER', 'INFO'));
        } finally {
          c.disconnect();
        }
      }));
      return states.every((info) => info.includes('cluster_state:ok'));
    });
    return { nodes, ports: servers.map((s) => s.port), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface PrivateRedis {
  readonly port: number;
  /** redis://127.0.0.1:PORT/0 */
  readonly url: string;
  /** The server's directory (AOF files under appendonlydir/). */
  readonly dir: string;
  /** Stops the server (kill -9 by default, or SHUTDOWN) and starts it again on the same port and dir. */
  restart(how?: 'kill' | 'shutdown'): Promise<void>;
  /** Stops it without restarting (e.g. "Redis unreachable" tests); start() brings it back. */
  down(how?: 'kill' | 'shutdown'): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: the server stops answering, its connections stay open (unreachable without a reset). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Kills it and removes the dir. */
  stop(): Promise<void>;
}

export interface PrivateRedisOptions {
  /** AOF on (default) or off (then a restart loses everything). */
  readonly appendonly?: boolean;
  /** When the AOF reaches the disk: always (each write), everysec (default), no (the kernel decides). */
  readonly appendfsync?: 'always' | 'everysec' | 'no';
}

/** Starts one private redis-server with AOF in a temp dir (no RDB snapshots: what survives is the AOF's doing). */
export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-redis-'));
  const port = await freeRedisPort(false);
  const server = new ServerProcess(port, dir, [
    '--save', '', '--appendonly', opts.appendonly === false ? 'no' : 'yes', '--appendfsync', opts.appendfsync ?? 'everysec',
  ]);
  try {
    await server.start();
  } catch (err) {
    await server.stop('kill');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port, dir, url: `redis://127.0.0.1:${port}/0`,
    async restart(how = 'kill') {
      await server.stop(how);
      await server.start();
    },
    down: (how = 'kill') => server.stop(how),
    start: () => server.start(),
    pause: () => server.signal('SIGSTOP'),
    resume: () => server.signal('SIGCONT'),
    async stop() {
      await server.stop('kill');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * startPrivateRedis(), or undefined after skipping the test (outside CI) when redis-server is
 * missing: the one call a test needs (`if (redis === undefined) return;`).
 */
export async function privateRedisOrSkip(t: { skip(msg: string): void }, opts: PrivateRedisOptions = {}): Promise<PrivateRedis | undefined> {
  return redisBinariesOrSkip(t) ? startPrivateRedis(opts) : undefined;
}

/** startRedisCluster(), or undefined after skipping the test (outside CI) when redis-server or redis-cli is missing. */
export async function redisClusterOrSkip(t: { skip(msg: string): void }, opts: { masters?: number } = {}): Promise<RedisCluster | undefined> {
  return redisBinariesOrSkip(t) ? startRedisCluster(opts) : undefined;
}
