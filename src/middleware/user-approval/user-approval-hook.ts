/**
 * `user_approval`: the announce's passkey must belong to an enabled user of the access registry.
 *
 * The passkey is read exactly where the privtrak hook reads it (same `identifier` options:
 * route parameter — which is also where the UDP frontend puts BEP 41 URL data — or query).
 * A malformed passkey gets the same answer as an unknown one, so the reply never tells
 * whether some other passkey exists. Refusals (docs/errors.md):
 *
 *   missing passkey        UNAUTHORIZED        no passkey in the URL
 *   unknown passkey        UNAUTHORIZED        not in the registry, or not 32 hex characters
 *   account disabled       USER_DISABLED       enabled=false (disabled or banned)
 *   download privileges …  LEECHING_FORBIDDEN  can_leech=false and left>0 (seeding and `stopped` still pass)
 *
 * On success, when the registry has the user's site ID, it sets ctx.siteUserId and ctx.userId (the
 * site user's key, accounting/user-key.ts, unless an earlier hook set one): the user stays the
 * same user when the passkey changes, for peer_limits and the privtrak hook alike. A user without a site ID is keyed by the privtrak
 * hook (a keyed hash of the passkey). Scrapes need a known, enabled user too.
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
import { identifierSchema, type IdentifierOptions } from '../privtrak/identifier.js';
import type { AccessRegistry } from '../../access/registry.js';
import type { UserRecord } from '../../access/records.js';
import { UserKeys } from '../../accounting/user-key.js';

export const userApprovalOptionsSchema = z.object({
  /** Where the passkey is read; the same options (and defaults) as the privtrak hook's. */
  identifier: identifierSchema.default({}),
}).strict();

const REASONS = ['missing', 'unknown', 'disabled', 'leeching'] as const;

export class UserApprovalHook implements Hook {
  readonly name = 'user_approval';
  private readonly from: IdentifierOptions['from'];
  private readonly key: string;
  private readonly missing: ClientError;
  private readonly unknown: ClientError;
  // Refusals are built once: throwing a shared error costs no allocation (its stack is never shown).
  private readonly disabled = new ClientError('USER_DISABLED', 'account disabled');
  private readonly leeching = new ClientError('LEECHING_FORBIDDEN', 'download privileges revoked: seeding only');
  private readonly refused: RefusalCounters<(typeof REASONS)[number]>;
  /** Site keys only: they need no secret. */
  private readonly keys = new UserKeys();

  constructor(private readonly registry: AccessRegistry, opts: z.output<typeof userApprovalOptionsSchema>, deps: Pick<HookDeps, 'prometheus'>) {
    this.from = opts.identifier.from;
    this.key = opts.identifier.name;
    this.missing = new ClientError('UNAUTHORIZED', `missing ${this.key}`);
    this.unknown = new ClientError('UNAUTHORIZED', `unknown ${this.key}`);
    this.refused = refusalCounters(deps.prometheus, this.name, REASONS);
  }

  /** The enabled user behind the request's passkey, or a ClientError. */
  private approve(ctx: RequestContext): UserRecord {
    // As createPasskeyIdentifier reads it, but looked up as text: registry keys are the hex
    // passkeys, so a malformed one simply is not found — and is answered like an unknown one.
    let passkey: string | undefined;
    if (this.from !== 'query') passkey = ctx.params[this.key];
    if (passkey === undefined && this.from !== 'param') passkey = ctx.query[this.key];
    if (passkey === undefined || passkey === '') {
      this.refused.missing.inc();
      throw this.missing;
    }
    const user = this.registry.user(passkey);
    if (user === undefined) {
      this.refused.unknown.inc();
      throw this.unknown;
    }
    if (!user.enabled) {
      this.refused.disabled.inc();
      throw this.disabled;
    }
    if (user.siteId !== null) {
      ctx.siteUserId = user.siteId;
      ctx.userId ??= this.keys.forSiteUser(user.siteId);
    }
    return user;
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): void {
    const user = this.approve(ctx);
    // A `stopped` still passes: the client is leaving, and its last bytes should be counted.
    if (!user.canLeech && req.left > 0 && req.event !== 'stopped') {
      this.refused.leeching.inc();
      throw this.leeching;
    }
  }

  handleScrape(ctx: RequestContext): void {
    this.approve(ctx);
  }
}

export function createUserApprovalHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const opts = parseHookOptions(userApprovalOptionsSchema, options, path);
  return new UserApprovalHook(requireAccessRegistry(deps, 'user_approval', path), opts, deps);
}
