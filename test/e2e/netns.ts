/**
 * A network namespace joined to the root namespace by one veth pair, with private addresses
 * on both ends, for clients that refuse loopback peers (Transmission 3.00 treats 127.0.0.0/8
 * as martian). One client runs in the namespace (`ip netns exec`), the other and the tracker in
 * the root namespace, bound to the root end's address: traffic between them crosses the veth
 * pair and never leaves the machine (no bridge, no forwarding, no route out of the namespace).
 *
 * Names carry the pid, so a crashed earlier run cannot collide; leftovers of runs whose pid is
 * gone are removed before a new namespace is made. Needs root (CAP_NET_ADMIN) and iproute2.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { hasCommand } from './clients.js';

const NS_PREFIX = 'privtrak-e2e-';
const VETH_PREFIX = 'ptk';
let seq = 0;
const open = new Set<() => void>();
// A test process that exits without reaching its finally blocks still removes its namespaces.
process.on('exit', () => { for (const close of open) close(); });

function ip(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function mustIp(args: string[]): string {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')} failed: ${r.err.trim()}`);
  return r.out;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why namespaces cannot be used here, or undefined when they can (probes with a throwaway namespace and veth pair). */
export function netnsProblem(): string | undefined {
  if (!hasCommand('ip')) return 'the ip command (iproute2) is not installed';
  const ns = `${NS_PREFIX}${process.pid}-probe`;
  const veth = `${VETH_PREFIX}${process.pid.toString(36)}xp`;
  try {
    const add = ip(['netns', 'add', ns]);
    if (!add.ok) return `cannot create a network namespace (needs root/CAP_NET_ADMIN): ${add.err.trim()}`;
    const link = ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    if (!link.ok) return `cannot create a veth pair: ${link.err.trim()}`;
    return undefined;
  } finally {
    ip(['link', 'del', veth]);
    ip(['netns', 'del', ns]);
  }
}

/** Skips (outside CI) or fails (in CI) when network namespaces are unavailable. */
export function requireNetns(t: { skip(msg: string): void }): boolean {
  const problem = netnsProblem();
  if (problem === undefined) return true;
  if (process.env['CI'] === 'true') throw new Error(`network namespaces are required in CI: ${problem}`);
  t.skip(`no network namespaces: ${problem}`);
  return false;
}

/** Removes namespaces (and the clients still running in them) and veth ends left by earlier runs whose process is gone. */
export function sweepStale(): void {
  for (const line of ip(['netns', 'list']).out.split('\n')) {
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-\\S+`).exec(line.trim());
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    for (const pid of ip(['netns', 'pids', m[0]]).out.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    ip(['netns', 'del', m[0]]);
  }
  for (const line of ip(['-o', 'link', 'show']).out.split('\n')) {
    const m = new RegExp(`^\\d+:\\s+(${VETH_PREFIX}([0-9a-z]+)x[0-9a-z]+)[@:]`).exec(line);
    if (!m) continue;
    const pid = parseInt(m[2], 36);
    if (pid !== process.pid && !pidAlive(pid)) ip(['link', 'del', m[1]]);
  }
}

function cidrRange(cidr: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(cidr);
  if (!m) return undefined;
  const base = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const bits = m[5] === undefined ? 32 : Number(m[5]);
  const size = 2 ** (32 - bits);
  const start = base - (base % size);
  return [start, start + size - 1];
}

/** A 10.x.y.0/24 that overlaps no route or address the machine already has. */
function freeSubnet(): string {
  const used: Array<[number, number]> = [];
  const text = ip(['-4', 'route', 'show', 'table', 'all']).out + '\n' + ip(['-4', '-o', 'addr', 'show']).out;
  for (const tok of text.split(/\s+/)) {
    if (tok === 'default') continue;
    const r = /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(tok) ? cidrRange(tok) : undefined;
    if (r) used.push(r);
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const net = `10.${randomInt(100, 255)}.${randomInt(0, 256)}`;
    const [a, b] = cidrRange(`${net}.0/24`)!;
    if (!used.some(([c, d]) => a <= d && c <= b)) return net;
  }
  throw new Error('no free 10.x.y.0/24 subnet found');
}

export interface NetnsLink {
  /** The namespace's name, for `ip netns exec`. */
  readonly ns: string;
  /** The root namespace's end of the veth pair: bind the tracker and root-side clients here. */
  readonly hostIp: string;
  /** The namespace's end. */
  readonly nsIp: string;
  /** Deletes the namespace and the veth pair; safe to call twice. Kill processes in the namespace first. */
  close(): void;
}

/** Creates a namespace joined to the root namespace by a veth pair (10.x.y.1 here, 10.x.y.2 there). */
export function createNetnsLink(): NetnsLink {
  sweepStale();
  const n = seq++;
  const ns = `${NS_PREFIX}${process.pid}-${n}`;
  const veth = `${VETH_PREFIX}${process.pid.toString(36)}x${n.toString(36)}`;
  const net = freeSubnet();
  const hostIp = `${net}.1`;
  const nsIp = `${net}.2`;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    open.delete(close);
    ip(['link', 'del', veth]);
    ip(['netns', 'del', ns]);
  };
  open.add(close);
  try {
    mustIp(['netns', 'add', ns]);
    mustIp(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    mustIp(['addr', 'add', `${hostIp}/24`, 'dev', veth]);
    mustIp(['link', 'set', veth, 'up']);
    mustIp(['-n', ns, 'addr', 'add', `${nsIp}/24`, 'dev', 'eth0']);
    mustIp(['-n', ns, 'link', 'set', 'eth0', 'up']);
    mustIp(['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    close();
    throw e;
  }
  return { ns, hostIp, nsIp, close };
}
