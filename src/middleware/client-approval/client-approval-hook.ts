/**
 * `client_approval`: which BitTorrent clients may announce, by peer_id prefix and, over HTTP,
 * by User-Agent prefix.
 *
 *   allow: [-qB4, -TR3, -lt0D]    peer_id prefixes allowed (empty: any client not denied)
 *   deny:  [-TR2, -UT]            peer_id prefixes refused (checked first: deny wins)
 *   user_agent: {allow: [qBittorrent/], deny: [BitComet]}   HTTP only — UDP carries no User-Agent
 *
 * Prefixes are compared byte for byte against the start of the peer_id (latin1), without
 * decoding it. Refusals (docs/errors.md): `client banned (<prefix>)` (CLIENT_BANNED) and
 * `client not allowed` (CLIENT_NOT_ALLOWED); for user agents, `user agent banned (<prefix>)`
 * and `user agent not allowed`. An HTTP announce without a User-Agent fails a non-empty
 * user_agent.allow list. Scrapes are not checked (they carry no peer_id).
 */
import { z } from 'zod';
import type { AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Hook } from '../hook.js';
import type { RequestContext } from '../context.js';
import type { HookDeps } from '../hook.js';
import { parseHookOptions } from '../options.js';
import { refusalCounters, type RefusalCounters } from '../refusals.js';

const prefix = z.string().min(1).max(20);
const uaPrefix = z.string().min(1).max(200);

export const clientApprovalOptionsSchema = z.object({
  allow: z.array(prefix).default([]),
  deny: z.array(prefix).default([]),
  user_agent: z.object({
    allow: z.array(uaPrefix).default([]),
    deny: z.array(uaPrefix).default([]),
  }).strict().default({}),
}).strict();

const REASONS = ['peer_id_denied', 'peer_id_not_allowed', 'user_agent_denied', 'user_agent_not_allowed'] as const;

interface Rule {
  readonly bytes: Buffer;
  readonly refusal: ClientError;
}

function startsWith(peerId: Buffer, p: Buffer): boolean {
  // Buffer.compare over the prefix's range: no slice, no string.
  return peerId.length >= p.length && peerId.compare(p, 0, p.length, 0, p.length) === 0;
}

function startsWithAny(peerId: Buffer, prefixes: readonly Buffer[]): boolean {
  for (const p of prefixes) if (startsWith(peerId, p)) return true;
  return false;
}

export class ClientApprovalHook implements Hook {
  readonly name = 'client_approval';
  private readonly allow: readonly Buffer[];
  private readonly deny: readonly Rule[];
  private readonly uaAllow: readonly string[];
  private readonly uaDeny: ReadonlyArray<{ prefix: string; refusal: ClientError }>;
  private readonly refused: RefusalCounters<(typeof REASONS)[number]>;
  private readonly notAllowed = new ClientError('CLIENT_NOT_ALLOWED', 'client not allowed');
  private readonly uaNotAllowed = new ClientError('CLIENT_NOT_ALLOWED', 'user agent not allowed');

  constructor(opts: z.output<typeof clientApprovalOptionsSchema>, deps: Pick<HookDeps, 'prometheus'>) {
    this.allow = opts.allow.map((p) => Buffer.from(p, 'latin1'));
    this.deny = opts.deny.map((p) => ({ bytes: Buffer.from(p, 'latin1'), refusal: new ClientError('CLIENT_BANNED', `client banned (${p})`) }));
    this.uaAllow = opts.user_agent.allow;
    this.uaDeny = opts.user_agent.deny.map((p) => ({ prefix: p, refusal: new ClientError('CLIENT_BANNED', `user agent banned (${p})`) }));
    this.refused = refusalCounters(deps.prometheus, this.name, REASONS);
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): void {
    const id = req.peer.id;
    for (const rule of this.deny) {
      if (startsWith(id, rule.bytes)) {
        this.refused.peer_id_denied.inc();
        throw rule.refusal;
      }
    }
    if (this.allow.length > 0 && !startsWithAny(id, this.allow)) {
      this.refused.peer_id_not_allowed.inc();
      throw this.notAllowed;
    }
    if (req.transport === 'http') this.checkUserAgent(ctx.userAgent);
  }

  private checkUserAgent(ua: string | undefined): void {
    if (ua !== undefined) {
      for (const rule of this.uaDeny) {
        if (ua.startsWith(rule.prefix)) {
          this.refused.user_agent_denied.inc();
          throw rule.refusal;
        }
      }
    }
    if (this.uaAllow.length > 0 && (ua === undefined || !this.uaAllow.some((p) => ua.startsWith(p)))) {
      this.refused.user_agent_not_allowed.inc();
      throw this.uaNotAllowed;
    }
  }

  handleScrape(): void {}
}

export function createClientApprovalHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  return new ClientApprovalHook(parseHookOptions(clientApprovalOptionsSchema, options, path), deps);
}
