/**
 * Runs a `serve --workers N` process (the CLI, or workers-program.ts) for tests: collects its
 * JSON log lines, finds the listeners' ports and each worker's pid from them, and waits for
 * lines to appear (always bounded).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './tracker-process.js';

/** workers-program.ts compiled: the real primary and workers of `serve --workers N`. */
export const WORKERS_PROGRAM = join(ROOT, 'dist', 'test', 'support', 'workers-program.js');

/** Config lines of an open tracker (no hooks, memory storage, public /announce), UDP on `udpAddr` ("" = none). */
export function openTrackerConfig(udpAddr: string): string[] {
  return [
    'log_level: info',
    'metrics_addr: "127.0.0.1:0"',
    'shutdown_timeout: 3s',
    'prehooks: []',
    'http: {addr: "127.0.0.1:0", announce_routes: ["/announce"]}',
    `udp: {addr: "${udpAddr}"}`,
  ];
}

export interface LogLine {
  readonly msg: string;
  readonly worker?: number;
  readonly pid?: number;
  readonly http?: number;
  readonly udp?: number;
  readonly port?: number;
  readonly [key: string]: unknown;
}

export class WorkersProcess {
  readonly lines: LogLine[] = [];
  /** Everything written, for failure messages. */
  output = '';
  private partial = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    const onData = (c: Buffer) => {
      const text = c.toString();
      this.output += text;
      this.partial += text;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      for (const p of parts) {
        if (!p.startsWith('{')) continue;
        try {
          this.lines.push(JSON.parse(p) as LogLine);
        } catch { /* not a log line */ }
      }
      for (const w of this.waiters) w();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => { this.output += c.toString(); });
    this.exited = new Promise((resolve) => child.on('exit', (code) => {
      for (const w of this.waiters) w();
      resolve(code);
    }));
  }

  /** Resolves with the first log line (from `from` on) matching `pred`; rejects after `ms` or if the process exits first. */
  waitFor(pred: (l: LogLine) => boolean, ms: number, from = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.lines.slice(from).find(pred);
        if (hit !== undefined) return finish(() => resolve(hit));
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          finish(() => reject(new Error(`process exited (${this.child.exitCode ?? this.child.signalCode}) before the expected log line:\n${this.output}`)));
        }
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no matching log line within ${ms} ms:\n${this.output}`))), ms);
      const finish = (then: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        then();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Slot → pid of the latest "worker started" line of each worker. */
  workerPids(): Map<number, number> {
    const pids = new Map<number, number>();
    for (const l of this.lines) if (l.msg === 'worker started' && l.worker !== undefined) pids.set(l.worker, l.pid!);
    return pids;
  }

  port(name: 'http' | 'udp' | 'metrics'): number {
    if (name === 'metrics') return this.lines.find((l) => l.msg === 'metrics listening')?.port ?? 0;
    return this.lines.find((l) => l.msg === 'worker started')?.[name] ?? 0;
  }

  /** SIGKILL if still running (test cleanup). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * Spawns `node script ...args` and resolves once it logged "privtrak started" and each of the
 * `workers` logged "worker started" (bounded). (The primary's line may come first: the processes
 * share one stdout pipe but not one clock of writes.)
 */
export async function startWorkersProcess(script: string, args: string[], opts: { workers: number; timeoutMs?: number; cwd?: string }): Promise<WorkersProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  const p = new WorkersProcess(child);
  try {
    const timeout = opts.timeoutMs ?? 20_000;
    await p.waitFor((l) => l.msg === 'privtrak started', timeout);
    await p.waitFor(() => p.workerPids().size === opts.workers, timeout);
  } catch (err) {
    p.kill();
    throw err;
  }
  return p;
}
