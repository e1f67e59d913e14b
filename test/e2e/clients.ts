/**
 * Real BitTorrent clients for end-to-end tests: aria2, qBittorrent (qbittorrent-nox),
 * Transmission (transmission-cli) and mktorrent, from Debian's packages. Each client runs in
 * its own temp folder and process group, optionally inside a network namespace (see
 * netns.ts), and is killed when the test ends. Options follow ../shared/samples/README.md.
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
  t.skip(`not installed: ${missing.join(', ')} (apt-get install -y aria2 qbittorrent-nox transmission-cli mktorrent iproute2)`);
  return false;
}

/** What a client itself reports having transferred of its one torrent, in payload bytes. */
export interface Transferred {
  uploaded: number;
  downloaded: number;
}

/** A running client: its process and its own account of the transfer (its API, not the tracker's). */
export interface BtClient {
  readonly name: string;
  readonly proc: ChildProcess;
  /** The signal that makes it quit cleanly, announcing `stopped` to its trackers. */
  readonly stopSignal: NodeJS.Signals;
  transferred(): Promise<Transferred>;
  /**
   * Makes the client refresh what `transferred()` reads. qBittorrent's WebUI serves a cached
   * status that libtorrent updates when the torrent's state changes; an idle torrent (the transfer
   * over, no peer connected) posts no update, and its last figures can stay behind the counters for
   * good (seen: 148 KB for 30 s). A re-announce changes its state (and announces the counters,
   * which changes no total). aria2 answers from its live counters: nothing to do.
   */
  refresh(): Promise<void>;
  /** What the client says of its tracker (status and last message), for failure messages. */
  trackerStatus(): Promise<string>;
}

const running = new Set<ChildProcess>();
// A test process that exits without reaching its finally blocks still kills its clients.
process.on('exit', () => { for (const p of running) killGroup(p); });

function killGroup(p: ChildProcess): void {
  if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
    try { process.kill(-p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
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
    mktorrent(announceUrl, join(seedDir, name), torrent);
    return { payload, torrent, name, seedDir };
  }

  /** Starts `cmd` in its own process group; with `netns`, inside that network namespace (`ip netns exec` execs in place, so the pid is the client's). */
  run(cmd: string, args: string[], logName: string, opts: { netns?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const log = this.path(`${logName}.log`);
    const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let text = '';
    child.stdout!.on('data', (c: Buffer) => { text += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { text += c.toString(); });
    running.add(child);
    child.on('exit', () => { running.delete(child); writeFileSync(log, text); });
    (child as ChildProcess & { logText: () => string }).logText = () => text;
    this.procs.push(child);
    return child;
  }

  /**
   * aria2 with its JSON-RPC on 127.0.0.1 (`transferred()` asks it). With RPC on, aria2 keeps
   * running when its download is done, until it is stopped. `maxUpload` caps its upload, bytes/s.
   */
  async aria2(torrent: string, dir: string, opts: { seed: boolean; udp?: boolean; name: string; netns?: string; maxUpload?: number }): Promise<BtClient> {
    const port = await freePort();
    const rpcPort = await freePort();
    const args = [
      `--dir=${dir}`, `--listen-port=${port}`, '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
      '--enable-peer-exchange=false', '--check-integrity=true', '--bt-seed-unverified=true', '--summary-interval=0',
      '--console-log-level=notice', '--file-allocation=none', '--bt-require-crypto=false', '--bt-max-peers=10',
      // aria2 stops seeding at share ratio 1.0 by default: a leecher that lost a piece to an end-game duplicate never finishes.
      opts.seed ? '--seed-time=60' : '--seed-time=0', '--seed-ratio=0.0',
      '--enable-rpc=true', `--rpc-listen-port=${rpcPort}`, '--rpc-listen-all=false',
    ];
    if (opts.udp) args.push('--enable-dht=true', `--dht-listen-port=${await freePort()}`);
    if (opts.maxUpload !== undefined) args.push(`--max-upload-limit=${opts.maxUpload}`);
    args.push(torrent);
    const proc = this.run('aria2c', args, opts.name, { netns: opts.netns });
    // aria2 1.36 takes SIGTERM (and SIGHUP) as an emergency shutdown that tells no tracker;
    // SIGINT is its graceful shutdown, which announces `stopped`.
    // aria2's RPC does not expose its trackers' replies.
    return {
      name: opts.name, proc, stopSignal: 'SIGINT', transferred: () => aria2Transferred(rpcPort), refresh: async () => undefined,
      trackerStatus: async () => 'not shown by aria2',
    };
  }

  /**
   * qBittorrent with a headless profile: SSRF mitigation off, several connections per IP, no
   * DHT/PeX/LSD. qbittorrent-nox 4.5.2 always serves its WebUI (WebUI\Enabled only matters to
   * the GUI build); LocalHostAuth=false lets `transferred()` call its API from 127.0.0.1 without
   * logging in, and Address keeps it on loopback. `maxUpload` caps its upload, bytes/s (rounded
   * to KiB/s; measured to hold for peers on loopback too).
   */
  async qbittorrent(torrent: string, saveDir: string, opts: { seed: boolean; name: string; netns?: string; maxUpload?: number }): Promise<BtClient> {
    const profile = this.path(`${opts.name}-profile`);
    const conf = join(profile, 'qBittorrent', 'config');
    mkdirSync(conf, { recursive: true });
    mkdirSync(saveDir, { recursive: true });
    const port = await freePort();
    const webuiPort = await freePort();
    const limit = opts.maxUpload === undefined ? [] : [`Session\\GlobalUPSpeedLimit=${Math.max(1, Math.round(opts.maxUpload / 1024))}`];
    writeFileSync(join(conf, 'qBittorrent.conf'), [
      '[LegalNotice]', 'Accepted=true', '',
      '[BitTorrent]',
      'Session\\SSRFMitigation=false', 'Session\\DHTEnabled=false', 'Session\\PeXEnabled=false', 'Session\\LSDEnabled=false',
      'Session\\MultiConnectionsPerIp=true', `Session\\Port=${port}`, 'Session\\AnnounceToAllTrackers=true',
      'Session\\Encryption=0', 'Session\\QueueingSystemEnabled=false', ...limit, '',
      '[Preferences]', 'WebUI\\Enabled=true', 'WebUI\\Address=127.0.0.1', 'WebUI\\LocalHostAuth=false', '',
    ].join('\n'));
    const args = [`--profile=${profile}`, `--webui-port=${webuiPort}`, `--save-path=${saveDir}`, '--add-paused=false', '--skip-dialog=true'];
    if (opts.seed) args.push('--skip-hash-check');
    args.push(torrent);
    const proc = this.run('qbittorrent-nox', args, opts.name, { netns: opts.netns });
    // qbittorrent-nox exits cleanly on SIGTERM ("Exiting cleanly"), announcing `stopped`.
    return {
      name: opts.name, proc, stopSignal: 'SIGTERM', transferred: () => qbittorrentTransferred(webuiPort),
      refresh: () => qbittorrentReannounce(webuiPort), trackerStatus: () => qbittorrentTrackers(webuiPort),
    };
  }

  /**
   * transmission-cli 3.00 with its own config folder (`-g`, also its HOME) holding a
   * settings.json that turns off everything that would talk to anyone but the tracker and the
   * swarm: DHT, LPD, PEX, port mapping, RPC, blocklists. Seeds when `dir` already holds the
   * data (new torrents are verified on add) and keeps seeding after a download. Transmission
   * ignores peers in 127.0.0.0/8, so it needs a network namespace (netns.ts) to swarm.
   */
  async transmission(torrent: string, dir: string, opts: { name: string; netns?: string }): Promise<ChildProcess> {
    const config = this.path(`${opts.name}-config`);
    mkdirSync(config, { recursive: true });
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    writeFileSync(join(config, 'settings.json'), JSON.stringify({
      'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false,
      'port-forwarding-enabled': false, 'rpc-enabled': false, 'blocklist-enabled': false,
      'peer-port': port, 'peer-port-random-on-start': false, 'download-dir': dir, 'incomplete-dir-enabled': false,
      'watch-dir-enabled': false, 'start-added-torrents': true, 'rename-partial-files': true,
      'speed-limit-up-enabled': false, 'speed-limit-down-enabled': false, 'alt-speed-enabled': false,
      'ratio-limit-enabled': false, 'idle-seeding-limit-enabled': false, 'queue-stalled-enabled': false,
      'download-queue-enabled': false, 'seed-queue-enabled': false, 'encryption': 1, 'message-level': 2,
    }, null, 2));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: config, XDG_CONFIG_HOME: config };
    // libcurl would honour a proxy from the environment; the tracker is on a local address.
    for (const k of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) delete env[k];
    env['no_proxy'] = '*';
    const args = ['-g', config, '-w', dir, '-p', String(port), '-M', '-B', '-et', '-D', '-U', torrent];
    return this.run('transmission-cli', args, opts.name, { netns: opts.netns, env });
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
    return this.procs.map((p) => `--- ${p.spawnargs.slice(0, p.spawnargs[0] === 'ip' ? 6 : 2).join(' ')}\n${(p as ChildProcess & { logText?: () => string }).logText?.().slice(-1500) ?? ''}`).join('\n');
  }

  async close(): Promise<void> {
    for (const p of this.procs) killGroup(p);
    await new Promise((r) => setTimeout(r, 100));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Makes a private torrent of `file` announcing to `announceUrl` (64 KiB pieces). */
export function mktorrent(announceUrl: string, file: string, out: string): void {
  const r = spawnSync('mktorrent', ['-p', '-l', '16', '-a', announceUrl, '-o', out, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`);
}

/**
 * The one torrent's figures from qBittorrent's WebUI API: `uploaded_session`/`downloaded_session`,
 * libtorrent's payload counters, which are what it announces. Not `uploaded`/`downloaded` (all-time):
 * libtorrent folds the session's bytes into those on its once-a-second tick of a torrent with
 * peers, so once the last peer is gone the last second's bytes can stay out of them (seen: all-time
 * 524,288 B behind the session counter; in CI a seeder's all-time figure stayed 151,545 B, and once
 * 281,064 B, under the payload for 30 s). In a fresh profile the session is the whole history.
 */
async function qbittorrentTransferred(webuiPort: number): Promise<Transferred> {
  const res = await fetch(`http://127.0.0.1:${webuiPort}/api/v2/torrents/info`, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`qBittorrent API: HTTP ${res.status}`);
  const list = await res.json() as Array<{ uploaded_session: number; downloaded_session: number }>;
  if (list.length !== 1) throw new Error(`qBittorrent API: ${list.length} torrents, expected 1`);
  return { uploaded: list[0]!.uploaded_session, downloaded: list[0]!.downloaded_session };
}

/** The one torrent's trackers as its WebUI lists them: URL (passkey cut), status, last message. */
async function qbittorrentTrackers(webuiPort: number): Promise<string> {
  try {
    const base = `http://127.0.0.1:${webuiPort}/api/v2/torrents`;
    const list = await (await fetch(`${base}/info`, { signal: AbortSignal.timeout(3000) })).json() as Array<{ hash: string; state: string }>;
    if (list.length !== 1) return `${list.length} torrents`;
    const trackers = await (await fetch(`${base}/trackers?hash=${list[0]!.hash}`, { signal: AbortSignal.timeout(3000) })).json() as
      Array<{ url: string; status: number; msg: string }>;
    // status: 0 disabled, 1 not contacted yet, 2 working, 3 updating, 4 not working (WebUI API v2).
    const named = trackers.filter((t) => !t.url.startsWith('** ['))
      .map((t) => `${t.url.replace(/\/[0-9a-f]{32}\//, '/<passkey>/')} status ${t.status} "${t.msg}"`);
    return `torrent ${list[0]!.state}; ${named.join('; ') || 'no tracker'}`;
  } catch (err) {
    return `WebUI not answering (${(err as Error).message})`;
  }
}

async function qbittorrentReannounce(webuiPort: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${webuiPort}/api/v2/torrents/reannounce`, {
    method: 'POST', body: new URLSearchParams({ hashes: 'all' }), signal: AbortSignal.timeout(3000),
  });
  if (!res.ok) throw new Error(`qBittorrent reannounce: HTTP ${res.status}`);
}

/**
 * The one torrent's figures from aria2's JSON-RPC, active or finished. aria2 exposes no
 * downloaded-bytes counter: `completedLength` (verified bytes held) stands for it, which is
 * what a client that started empty downloaded, less duplicate or corrupt blocks; for a seeder
 * it is the whole payload, so `downloaded` is meaningful for a leecher only.
 */
async function aria2Transferred(rpcPort: number): Promise<Transferred> {
  const keys = ['status', 'uploadLength', 'completedLength'];
  const call = async (method: string, params: unknown[]) => {
    const res = await fetch(`http://127.0.0.1:${rpcPort}/jsonrpc`, {
      method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: method, method, params }), signal: AbortSignal.timeout(3000),
    });
    const body = await res.json() as { result?: Array<Record<string, string>>; error?: { message: string } };
    if (body.result === undefined) throw new Error(`aria2 ${method}: ${body.error?.message ?? res.status}`);
    return body.result;
  };
  const all = [...await call('aria2.tellActive', [keys]), ...await call('aria2.tellStopped', [0, 100, keys])];
  if (all.length !== 1) throw new Error(`aria2 RPC: ${all.length} downloads, expected 1`);
  return { uploaded: Number(all[0]!['uploadLength']), downloaded: Number(all[0]!['completedLength']) };
}

/**
 * Stops a client as a user would (its clean-quit signal), so that it announces `stopped`, and
 * resolves once it has exited; rejects if it is still running after `timeoutMs` (the caller's
 * finally kills it).
 */
export async function stopGracefully(client: BtClient, timeoutMs: number): Promise<{ ms: number; code: number | null; signal: string | null }> {
  const { proc } = client;
  const began = Date.now();
  if (proc.exitCode !== null || proc.signalCode !== null) return { ms: 0, code: proc.exitCode, signal: proc.signalCode };
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.kill(client.stopSignal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${client.name} still running ${timeoutMs} ms after ${client.stopSignal}`)), timeoutMs);
  });
  try {
    const r = await Promise.race([exited, timeout]);
    return { ms: Date.now() - began, ...r };
  } finally {
    clearTimeout(timer);
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
