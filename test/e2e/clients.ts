/**
 * Real BitTorrent clients for end-to-end tests: aria2, qBittorrent (qbittorrent-nox) and
 * mktorrent, from Debian's packages. Each client runs in its own temp folder and process
 * group and is killed when the test ends. Options follow ../shared/samples/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/tracker-process.js';

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Skips (outside CI) or fails (in CI) when a client binary is missing. */
export function requireCommands(t: { skip(msg: string): void }, cmds: string[]): boolean {
  const missing = cmds.filter((c) => !hasCommand(c));
  if (missing.length === 0) return true;
  if (process.env['CI'] === 'true') throw new Error(`required in CI but not installed: ${missing.join(', ')} (.ci/run installs them)`);
  t.skip(`not installed: ${missing.join(', ')} (apt-get install -y aria2 qbittorrent-nox mktorrent)`);
  return false;
}

export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'privtrak-e2e-'));
  private readonly procs: ChildProcess[] = [];

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** A payload of random bytes and a private torrent of it announcing to `announceUrl`. */
  makeTorrent(announceUrl: string, sizeBytes = 3 * 1024 * 1024 + 12345): { payload: Buffer; torrent: string; name: string; seedDir: string } {
    const seedDir = this.path('seed');
    mkdirSync(seedDir, { recursive: true });
    const name = 'payload.bin';
    const payload = randomBytes(sizeBytes);
    writeFileSync(join(seedDir, name), payload);
    const torrent = this.path('payload.torrent');
    const r = spawnSync('mktorrent', ['-p', '-l', '16', '-a', announceUrl, '-o', torrent, join(seedDir, name)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`);
    return { payload, torrent, name, seedDir };
  }

  run(cmd: string, args: string[], logName: string): ChildProcess {
    const log = this.path(`${logName}.log`);
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout!.on('data', (c: Buffer) => { text += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { text += c.toString(); });
    child.on('exit', () => writeFileSync(log, text));
    (child as ChildProcess & { logText: () => string }).logText = () => text;
    this.procs.push(child);
    return child;
  }

  async aria2(torrent: string, dir: string, opts: { seed: boolean; udp?: boolean; name: string }): Promise<ChildProcess> {
    const port = await freePort();
    const args = [
      `--dir=${dir}`, `--listen-port=${port}`, '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
      '--enable-peer-exchange=false', '--check-integrity=true', '--bt-seed-unverified=true', '--summary-interval=0',
      '--console-log-level=notice', '--file-allocation=none', '--bt-require-crypto=false', '--bt-max-peers=10',
      opts.seed ? '--seed-time=60' : '--seed-time=0',
    ];
    if (opts.udp) args.push('--enable-dht=true', `--dht-listen-port=${await freePort()}`);
    args.push(torrent);
    return this.run('aria2c', args, opts.name);
  }

  /** qBittorrent with a headless profile: SSRF mitigation off, several connections per IP, no DHT/PeX/LSD. */
  async qbittorrent(torrent: string, saveDir: string, opts: { seed: boolean; name: string }): Promise<ChildProcess> {
    const profile = this.path(`${opts.name}-profile`);
    const conf = join(profile, 'qBittorrent', 'config');
    mkdirSync(conf, { recursive: true });
    mkdirSync(saveDir, { recursive: true });
    const port = await freePort();
    writeFileSync(join(conf, 'qBittorrent.conf'), [
      '[LegalNotice]', 'Accepted=true', '',
      '[BitTorrent]',
      'Session\\SSRFMitigation=false', 'Session\\DHTEnabled=false', 'Session\\PeXEnabled=false', 'Session\\LSDEnabled=false',
      'Session\\MultiConnectionsPerIp=true', `Session\\Port=${port}`, 'Session\\AnnounceToAllTrackers=true',
      'Session\\Encryption=0', 'Session\\QueueingSystemEnabled=false', '',
      '[Preferences]', 'WebUI\\Enabled=false', 'WebUI\\LocalHostAuth=false', '',
    ].join('\n'));
    const args = [`--profile=${profile}`, `--webui-port=${await freePort()}`, `--save-path=${saveDir}`, '--add-paused=false', '--skip-dialog=true'];
    if (opts.seed) args.push('--skip-hash-check');
    args.push(torrent);
    return this.run('qbittorrent-nox', args, opts.name);
  }

  /** Resolves once `file` holds exactly `expected`, polling; rejects after `timeoutMs`. */
  async waitForFile(file: string, expected: Buffer, timeoutMs: number, what: string): Promise<number> {
    const began = Date.now();
    while (Date.now() - began < timeoutMs) {
      if (existsSync(file)) {
        try {
          const got = readFileSync(file);
          if (got.length === expected.length && got.equals(expected)) return Date.now() - began;
        } catch { /* being written */ }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what}: ${file} did not complete within ${timeoutMs} ms\n${this.logs()}`);
  }

  logs(): string {
    return this.procs.map((p) => `--- ${p.spawnargs.slice(0, 2).join(' ')}\n${(p as ChildProcess & { logText?: () => string }).logText?.().slice(-1500) ?? ''}`).join('\n');
  }

  async close(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
        try { process.kill(-p.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns true, bounded. */
export async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const began = Date.now();
  while (Date.now() - began < timeoutMs) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
