/**
 * A fleet of `privtrak serve` processes in shared mode, for fault tests: each instance is one
 * "machine" (its own config file, HTTP port, metrics port and working directory), all on one
 * Redis keyspace (a node URL or Cluster seeds) and one PostgreSQL sink schema. The fleet kills
 * and restarts instances on demand, reads their /metrics, and records every exit it did not
 * cause: a tracker that crashed by itself is a test failure, not noise.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { freePort, MAIN, startTracker, waitExit } from './tracker-process.js';

const run = promisify(execFile);

/** Where the instances keep swarms and deltas: one Redis node or a Redis Cluster. */
export type FleetRedis = { readonly url: string } | { readonly clusterNodes: readonly string[] };

export interface FleetOptions {
  /** The fleet's directory (configs, the shared user-key secret, each instance's cwd). */
  readonly dir: string;
  readonly instances: number;
  readonly redis: FleetRedis;
  readonly keyPrefix: string;
  readonly postgres: { readonly url: string; readonly schema: string };
  /** storage.config values over the fleet's defaults (groups 16, command_timeout 500ms). */
  readonly storage?: Record<string, unknown>;
  /** privtrak options over the fleet's defaults (flush_interval 100ms: a 3 s drain lease). */
  readonly privtrak?: Record<string, unknown>;
  /** The sink's URL as the trackers see it (e.g. through a TCP proxy); default postgres.url. */
  readonly sinkUrl?: string;
}

/** An exit the test did not ask for. */
export interface UnexpectedExit {
  readonly instance: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly logTail: string;
}

interface Instance {
  readonly index: number;
  readonly configPath: string;
  readonly cwd: string;
  readonly httpPort: number;
  readonly metricsPort: number;
  child: ChildProcess | undefined;
  /** Set before the fleet kills or stops it: that exit is expected. */
  expectingExit: boolean;
  log: string;
}

/**
 * Upload ×2 and download ×0 site-wide (freeleech): credited bytes then differ from raw ones, and
 * stay an exact function of them however the deltas are split (floor(raw × 2) = 2 × raw).
 */
export const FREELEECH = { upload: 2, download: 0 } as const;

export class SharedFleet {
  readonly secretPath: string;
  readonly unexpectedExits: UnexpectedExit[] = [];
  kills = 0;
  restarts = 0;
  private readonly list: Instance[] = [];

  private constructor(private readonly opts: FleetOptions, readonly secret: Buffer) {
    this.secretPath = join(opts.dir, 'user-key.secret');
    writeFileSync(this.secretPath, secret, { mode: 0o600 });
  }

  /** Writes every instance's config, runs `privtrak migrate` once, starts all instances. */
  static async start(opts: FleetOptions): Promise<SharedFleet> {
    const fleet = new SharedFleet(opts, randomBytes(32));
    for (let i = 0; i < opts.instances; i++) await fleet.configure(i);
    // Not spawnSync: the sink's URL may lead through a proxy living in this process's event loop.
    await run(process.execPath, [MAIN, 'migrate', '--config', fleet.list[0]!.configPath], { encoding: 'utf8', timeout: 30_000, cwd: fleet.list[0]!.cwd })
      .catch((err: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`privtrak migrate failed: ${err.message} ${err.stdout ?? ''}${err.stderr ?? ''}`);
      });
    try {
      await Promise.all(fleet.list.map((_, i) => fleet.launch(i)));
    } catch (err) {
      await fleet.killAll();
      throw err;
    }
    return fleet;
  }

  private async configure(i: number): Promise<void> {
    const cwd = join(this.opts.dir, `machine-${i}`);
    mkdirSync(cwd, { recursive: true });
    const httpPort = await freePort();
    const metricsPort = await freePort();
    const redis = 'url' in this.opts.redis ? { url: this.opts.redis.url } : { cluster_nodes: [...this.opts.redis.clusterNodes] };
    const config = {
      log_level: 'info', metrics_addr: `127.0.0.1:${metricsPort}`, announce_interval: '30s', min_announce_interval: '15s',
      shutdown_timeout: '5s', user_key_secret: this.secretPath,
      http: { addr: `127.0.0.1:${httpPort}` }, udp: { addr: '' },
      storage: { name: 'redis', config: { ...redis, key_prefix: this.opts.keyPrefix, groups: 16, command_timeout: '500ms', ...this.opts.storage } },
      prehooks: [
        { name: 'freeleech', options: { site_wide: FREELEECH } },
        { name: 'privtrak', options: {
          flush_interval: '100ms', batch_size: 500, max_retry_backoff: '500ms', ...this.opts.privtrak,
          // delta_log: one row per applied delta, so a test can count them against the accepted announces.
          sink: { name: 'postgres', url: this.opts.sinkUrl ?? this.opts.postgres.url, schema: this.opts.postgres.schema, timeout: '2s', delta_log: true },
        } },
      ],
    };
    const configPath = join(cwd, 'config.yaml');
    // JSON is YAML.
    writeFileSync(configPath, JSON.stringify(config, null, 1));
    this.list.push({ index: i, configPath, cwd, httpPort, metricsPort, child: undefined, expectingExit: false, log: '' });
  }

  private async launch(i: number): Promise<void> {
    const inst = this.list[i]!;
    inst.expectingExit = false;
    const child = await startTracker(inst.configPath, {
      cwd: inst.cwd, timeoutMs: 30_000,
      onOutput: (s) => { inst.log = (inst.log + s).slice(-20_000); },
    });
    inst.child = child;
    child.once('exit', (code, signal) => {
      if (!inst.expectingExit) this.unexpectedExits.push({ instance: i, code, signal, logTail: inst.log.slice(-3000) });
      if (inst.child === child) inst.child = undefined;
    });
  }

  get size(): number {
    return this.list.length;
  }

  /** HTTP ports of every instance (dead ones included: the load's retries find another). */
  get httpPorts(): number[] {
    return this.list.map((x) => x.httpPort);
  }

  alive(i: number): boolean {
    const c = this.list[i]!.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  pid(i: number): number | undefined {
    return this.list[i]!.child?.pid;
  }

  log(i: number): string {
    return this.list[i]!.log;
  }

  /** kill -9 of instance i (waits for the exit). */
  async kill(i: number): Promise<void> {
    const inst = this.list[i]!;
    const child = inst.child;
    if (child === undefined) return;
    inst.expectingExit = true;
    child.kill('SIGKILL');
    await waitExit(child);
    this.kills++;
  }

  /** Starts instance i again (same config, ports and directory). */
  async restart(i: number): Promise<void> {
    await this.launch(i);
    this.restarts++;
  }

  /** The instance's /metrics text. */
  metricsText(i: number): Promise<string> {
    const port = this.list[i]!.metricsPort;
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: 2000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      req.on('timeout', () => req.destroy(new Error(`metrics of instance ${i}: timeout`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** One unlabelled sample of instance i (summed over labels if several), or undefined. */
  async metric(i: number, name: string): Promise<number | undefined> {
    const text = await this.metricsText(i);
    let sum: number | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  /** The live instances whose privtrak_drain_lease_held is 1 (normally exactly one). */
  async leaseHolders(): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < this.list.length; i++) {
      if (!this.alive(i)) continue;
      const held = await this.metric(i, 'privtrak_drain_lease_held').catch(() => undefined);
      if (held === 1) out.push(i);
    }
    return out;
  }

  /** Waits (bounded) until exactly one live instance holds the drain lease; returns it. */
  async waitLeaseHolder(timeoutMs: number, not?: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const holders = (await this.leaseHolders()).filter((h) => h !== not);
      if (holders.length === 1) return holders[0]!;
      if (Date.now() > deadline) throw new Error(`no single drain lease holder within ${timeoutMs} ms (holders: ${JSON.stringify(holders)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM to every live instance; resolves with their exit codes (index → code). */
  async stopAll(): Promise<Map<number, number | null>> {
    const codes = new Map<number, number | null>();
    await Promise.all(this.list.map(async (inst, i) => {
      const child = inst.child;
      if (child === undefined || !this.alive(i)) return;
      inst.expectingExit = true;
      const exited = waitExit(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      codes.set(i, await exited);
      clearTimeout(timer);
    }));
    return codes;
  }

  /** kill -9 of everything still running (cleanup). */
  async killAll(): Promise<void> {
    await Promise.all(this.list.map(async (inst) => {
      const child = inst.child;
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
      inst.expectingExit = true;
      child.kill('SIGKILL');
      await waitExit(child);
    }));
  }
}
