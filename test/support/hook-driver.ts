/**
 * Drives a PrivtrakHook in-process for tests: a hook over a MemorySink in a temp journal
 * directory, announces through it, and a way to wait until their commit groups are written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { PrivtrakHook, type PrivtrakInternals } from '../../src/middleware/privtrak/privtrak-hook.js';
import type { BaselineStore } from '../../src/middleware/privtrak/baselines.js';
import { privtrakOptionsSchema } from '../../src/middleware/privtrak/options.js';
import { createContext, type RequestContext } from '../../src/middleware/context.js';
import { makePeer } from '../../src/bittorrent/ip.js';
import type { AnnounceEvent, AnnounceRequest, AnnounceResponse } from '../../src/bittorrent/types.js';
import type { DeltaSink } from '../../src/sinks/sink.js';
import { UserKeys } from '../../src/accounting/user-key.js';
import { NO_PEERS } from '../../src/bittorrent/peer-list.js';

/** The user-key secret of hooks made here (a fixed one: tests compute the same keys). */
export const TEST_SECRET = Buffer.alloc(32, 0x5e);
/** Keys as the hooks made here make them. */
export const testKeys = new UserKeys(TEST_SECRET);
/** The user key of a passkey in open mode (makeHook's hooks). */
export const keyOf = (passkey: string): Buffer => testKeys.forPasskey(passkey);

/** A store's entries keyed by the key's hex (Buffers are compared by reference as Map keys). */
export const byHex = (store: BaselineStore) => new Map([...store.entries()].map(([k, b]) => [k.toString('hex'), b]));

export const PASSKEY_A = '0123456789abcdef0123456789abcdef';
export const PASSKEY_B = 'fedcba9876543210fedcba9876543210';
export const IH = Buffer.alloc(20, 0x11);

const dirs: string[] = [];

/** Has `dir` removed after the test, with makeHook's own. */
export function trackDir(dir: string): void {
  dirs.push(dir);
}

/** Removes the journal directories makeHook created (call in afterEach). */
export function removeHookDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface HookExtras {
  readonly logger?: Logger;
  readonly prometheus?: Registry;
  readonly internals?: PrivtrakInternals;
}

export function makeHook(sink: DeltaSink, over: Record<string, unknown> = {}, journalDir?: string, extras: HookExtras = {}): PrivtrakHook {
  const dir = journalDir ?? mkdtempSync(join(tmpdir(), 'privtrak-hook-'));
  if (!journalDir) dirs.push(dir);
  const opts = privtrakOptionsSchema.parse({ journal_dir: dir, flush_interval: '50ms', ...over });
  return new PrivtrakHook(opts, sink, {
    logger: extras.logger ?? pino({ level: 'silent' }), prometheus: extras.prometheus ?? new Registry(), announceIntervalMs: 1_800_000,
  }, { userKeySecret: TEST_SECRET, ...extras.internals });
}

export function req(peer: string, uploaded: number, downloaded: number, left: number, event: AnnounceEvent, ih = IH): AnnounceRequest {
  return {
    infoHash: ih, peer: makePeer(Buffer.from(peer.padEnd(20, '0')), '127.0.0.1', 6881), event, uploaded, downloaded, left,
    numWant: 50, compact: true, noPeerId: true, transport: 'http',
  };
}

export const resp = (): AnnounceResponse => ({ interval: 1, minInterval: 1, complete: 0, incomplete: 0, ipv4Peers: NO_PEERS, ipv6Peers: NO_PEERS });

/** Replies the hook is holding until its journal write (the commit group of the current turn). */
let inFlight: Promise<void>[] = [];

/** Runs one announce through the hook; a refusal throws at once, a counted one is awaited by settle(). */
export function announce(hook: PrivtrakHook, passkey: string | undefined, r: AnnounceRequest, where: 'param' | 'query' = 'param') {
  const params: Record<string, string> = passkey !== undefined && where === 'param' ? { passkey } : {};
  const query: Record<string, string> = passkey !== undefined && where === 'query' ? { passkey } : {};
  return announceWith(hook, createContext(params, query), r);
}

/** announce() with a context the caller made (multipliers, site IDs). */
export function announceWith(hook: PrivtrakHook, ctx: RequestContext, r: AnnounceRequest): RequestContext {
  inFlight.push(hook.handleAnnounce(ctx, r, resp()) ?? Promise.resolve());
  return ctx;
}

/** Waits until every announce made so far is journalled (its reply released) and handed to the flusher. */
export async function settle(): Promise<void> {
  const all = inFlight;
  inFlight = [];
  await Promise.all(all);
}

/** The totals of a passkey's user in open mode (or of a user key). */
export async function totalsOf(sink: DeltaSink, passkey: string | Buffer) {
  const rows = await sink.totals({ user: typeof passkey === 'string' ? keyOf(passkey) : passkey, byTorrent: false });
  return rows[0] === undefined ? undefined : { up: rows[0].uploaded, down: rows[0].downloaded, snatched: rows[0].snatched };
}
