/** Runs `privtrak serve` as a child process, for tests that kill and restart it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** A config file in a directory of its own (the tracker's working directory in these tests); cleanup removes both. */
export function withConfig(yaml: string): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-cli-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, yaml);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP port that was free a moment ago (bind 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** A UDP port that was free a moment ago: the TCP port of freePort() may be taken in UDP. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.on('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const port = sock.address().port;
      sock.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  /** Bound on the start (default 15 s). */
  readonly timeoutMs?: number;
  /** Receives everything the tracker writes, also after the start (for a failure's message). */
  readonly onOutput?: (text: string) => void;
  /** Working directory (the default config keeps its data under ./data). */
  readonly cwd?: string;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
  /** node's own flags, before the script. */
  readonly nodeFlags?: readonly string[];
  /** The script node runs (default: this checkout's CLI, dist/src/cli/main.js). */
  readonly script?: string;
}

/** Starts the tracker and resolves once it logged "privtrak started" (bounded by opts.timeoutMs). */
export function startTracker(configPath: string, opts: StartOptions = {}): Promise<ChildProcess> {
  const { timeoutMs = 15_000, onOutput, cwd, env, nodeFlags = [], script = MAIN } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, script, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], cwd, env: { ...process.env, ...env } });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tracker did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.includes('"msg":"privtrak started"')) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        if (onOutput === undefined) child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    if (onOutput !== undefined) {
      child.stdout!.on('data', (c: Buffer) => onOutput(c.toString()));
      child.stderr!.on('data', (c: Buffer) => onOutput(c.toString()));
    }
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tracker exited (${code ?? signal}) before starting:\n${out}`));
    });
  });
}

export function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
