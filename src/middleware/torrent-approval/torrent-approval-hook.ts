/**
 * `torrent_approval`: which torrents this tracker serves, from the access registry.
 *
 *   mode: whitelist   the info_hash must be registered and not banned (a private tracker's usual mode)
 *   mode: blacklist   any info_hash except banned ones
 *
 * Refusals (docs/errors.md): `torrent not registered` (TORRENT_NOT_REGISTERED, whitelist only)
 * and `torrent banned` (TORRENT_BANNED). A registered torrent's site ID (the site's own
 * `torrents.id`) is put in ctx.siteTorrentId for later hooks and the privtrak deltas.
 * Scrapes are not checked: they reveal only counts, which are zero for a torrent nobody announces.
 */
import { z } from 'zod';
import type { AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Hook } from '../hook.js';
import type { RequestContext } from '../context.js';
import type { HookDeps } from '../hook.js';
import { parseHookOptions } from '../options.js';
import { requireAccessRegistry } from '../access-deps.js';
import { refusalCounters, type RefusalCounters } from '../refusals.js';
import type { AccessRegistry } from '../../access/registry.js';

export const torrentApprovalOptionsSchema = z.object({
  mode: z.enum(['whitelist', 'blacklist']).default('whitelist'),
}).strict();

const REASONS = ['not_registered', 'banned'] as const;

export class TorrentApprovalHook implements Hook {
  readonly name = 'torrent_approval';
  private readonly whitelist: boolean;
  private readonly refused: RefusalCounters<(typeof REASONS)[number]>;
  private readonly notRegistered = new ClientError('TORRENT_NOT_REGISTERED', 'torrent not registered');
  private readonly banned = new ClientError('TORRENT_BANNED', 'torrent banned');

  constructor(private readonly registry: AccessRegistry, opts: z.output<typeof torrentApprovalOptionsSchema>, deps: Pick<HookDeps, 'prometheus'>) {
    this.whitelist = opts.mode === 'whitelist';
    this.refused = refusalCounters(deps.prometheus, this.name, REASONS);
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): void {
    const torrent = this.registry.torrent(req.infoHash);
    ctx.torrent = torrent ?? null;
    if (torrent === undefined) {
      if (!this.whitelist) return;
      this.refused.not_registered.inc();
      throw this.notRegistered;
    }
    if (torrent.banned) {
      this.refused.banned.inc();
      throw this.banned;
    }
    if (torrent.siteId !== null) ctx.siteTorrentId = torrent.siteId;
  }

  handleScrape(): void {}
}

export function createTorrentApprovalHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const opts = parseHookOptions(torrentApprovalOptionsSchema, options, path);
  return new TorrentApprovalHook(requireAccessRegistry(deps, 'torrent_approval', path), opts, deps);
}
