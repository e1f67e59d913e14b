/**
 * `freeleech`: how many of an announce's bytes are credited. It sets ctx.downloadMultiplier and
 * ctx.uploadMultiplier; the privtrak hook credits `raw × multiplier` and keeps the raw bytes,
 * so nothing is lost if the policy changes later.
 *
 *   site_wide: {download: 0, upload: 1}                  a site-wide freeleech
 *   site_wide: {download: 1, upload: 2, from: 2025-12-24T00:00:00Z, until: 2025-12-27T00:00:00Z}
 *
 * Per torrent, the registry's download_multiplier / upload_multiplier apply (freeleech =
 * download 0, double upload = upload 2; absent = 1). A site-wide value other than 1 is an
 * event: while it is on, it applies to every torrent for which it is kinder to the user than
 * the torrent's own value (the lower download, the higher upload multiplier) — a site-wide
 * freeleech makes every torrent free, and a double-upload torrent stays double during it.
 * Without a registry only the site-wide values apply. Never refuses an announce.
 */
import { z } from 'zod';
import type { AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import type { Hook } from '../hook.js';
import type { RequestContext } from '../context.js';
import type { HookDeps } from '../hook.js';
import { parseHookOptions } from '../options.js';
import type { AccessRegistry } from '../../access/registry.js';
import { MAX_MULTIPLIER } from '../../access/records.js';

const multiplier = z.number().min(0).max(MAX_MULTIPLIER).default(1);

/** An ISO 8601 instant ("" = unbounded), as epoch ms. */
const instant = z.string().default('').transform((v, ctx) => {
  if (v === '') return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not an ISO 8601 time (e.g. 2025-12-24T00:00:00Z)` });
    return z.NEVER;
  }
  return ms;
});

export const freeleechOptionsSchema = z.object({
  site_wide: z.object({
    download: multiplier,
    upload: multiplier,
    /** The site-wide multipliers apply from this time until that one ("" = always). */
    from: instant,
    until: instant,
  }).strict().default({}),
}).strict();

export class FreeleechHook implements Hook {
  readonly name = 'freeleech';
  private readonly site: z.output<typeof freeleechOptionsSchema>['site_wide'];
  private readonly windowed: boolean;

  constructor(private readonly registry: AccessRegistry | undefined, opts: z.output<typeof freeleechOptionsSchema>, private readonly now: () => number = Date.now) {
    this.site = opts.site_wide;
    this.windowed = opts.site_wide.from !== undefined || opts.site_wide.until !== undefined;
  }

  private siteWideActive(): boolean {
    if (!this.windowed) return true;
    const t = this.now();
    return (this.site.from === undefined || t >= this.site.from) && (this.site.until === undefined || t < this.site.until);
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): void {
    // torrent_approval, earlier in the chain, has looked the torrent up already (ctx.torrent).
    const t = ctx.torrent === undefined ? this.registry?.torrent(req.infoHash) : ctx.torrent ?? undefined;
    let down = t?.downloadMultiplier ?? 1;
    let up = t?.uploadMultiplier ?? 1;
    if ((this.site.download !== 1 || this.site.upload !== 1) && this.siteWideActive()) {
      if (this.site.download !== 1 && this.site.download < down) down = this.site.download;
      if (this.site.upload !== 1 && this.site.upload > up) up = this.site.upload;
    }
    ctx.downloadMultiplier = down;
    ctx.uploadMultiplier = up;
  }

  handleScrape(): void {}
}

export function createFreeleechHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  return new FreeleechHook(deps.accessRegistry, parseHookOptions(freeleechOptionsSchema, options, path));
}
