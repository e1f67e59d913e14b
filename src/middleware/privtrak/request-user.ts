/**
 * Who sent a request, as a user key (accounting/user-key.ts): the site user's key when
 * `user_approval` found a site user ID (ctx.siteUserId), else a keyed hash of the passkey under the
 * installation's secret. Both modes of the privtrak hook (the journal and the shared store) name the
 * user this way, so a user's totals are the same rows whichever mode counted them.
 */
import { ClientError } from '../../bittorrent/errors.js';
import { UserKeys } from '../../accounting/user-key.js';
import { loadUserKeySecret } from '../../user-key-secret.js';
import type { RequestContext } from '../context.js';
import { createPasskeyIdentifier, type IdentifierOptions, type UserIdentifier } from './identifier.js';

/** The config's default (config/schema.ts `user_key_secret`), for hooks built without a tracker. */
const DEFAULT_SECRET_PATH = './data/user-key.secret';

export class RequestUser {
  /** Made at start; undefined before. */
  private keys: UserKeys | undefined;
  private readonly identifier: UserIdentifier;

  /** `onRefused` counts an announce refused for want of a user (a missing or malformed passkey). */
  constructor(options: IdentifierOptions, private readonly onRefused: () => void) {
    this.identifier = createPasskeyIdentifier(options, (passkey) => this.keys!.forPasskey(passkey));
  }

  /**
   * Reads (or creates) the secret. In open mode (no registry) it keys every passkey, so it is read
   * now and a problem stops the start; with a registry it is needed only for users without a site
   * ID, and read when one first announces.
   */
  start(secret: Buffer | undefined, secretPath: string | undefined, openMode: boolean): void {
    this.keys = new UserKeys(secret ?? (() => loadUserKeySecret(secretPath ?? DEFAULT_SECRET_PATH, { create: true })));
    if (openMode) this.keys.requireSecret();
  }

  /** The announcer's key; a refusal is counted and rethrown. */
  ofAnnounce(ctx: RequestContext): Buffer {
    try {
      return ctx.siteUserId !== undefined ? this.keys!.forSiteUser(ctx.siteUserId) : this.identifier.identify(ctx);
    } catch (err) {
      this.onRefused();
      throw err;
    }
  }

  /** A scrape's user: scrapes are not counted, but they are only for users with a well-formed passkey. */
  ofScrape(ctx: RequestContext): Buffer {
    if (this.keys === undefined) throw new ClientError('CLOSING', 'tracker starting, retry later');
    return ctx.siteUserId !== undefined ? this.keys.forSiteUser(ctx.siteUserId) : this.identifier.identify(ctx);
  }
}
