/**
 * User identifiers: read the passkey of an announce — a 32-hex-character passkey from a route
 * parameter (which is also where the UDP frontend puts BEP 41 URL data) or from a query
 * parameter — and turn it into the 16-byte key the caller keeps its state under. The privtrak
 * hook keys by a keyed hash of the passkey (accounting/user-key.ts), so the same passkey is the
 * same user over HTTP and UDP and no passkey is stored; peer_limits, which keeps nothing, by the
 * passkey's own bytes.
 */
import { z } from 'zod';
import { ClientError } from '../../bittorrent/errors.js';
import type { RequestContext } from '../context.js';
import { RecordIndex, passkeyWords } from '../../record-index.js';

export interface UserIdentifier {
  /** Returns the 16-byte key of the announce's user or throws a ClientError saying why there is none. */
  identify(ctx: RequestContext): Buffer;
}

export const identifierSchema = z.object({
  /** Where the passkey is read: the route parameter, the query, or either (route first). */
  from: z.enum(['param', 'query', 'param_or_query']).default('param_or_query'),
  /** Name of the route parameter / query key. */
  name: z.string().min(1).default('passkey'),
}).strict();

export type IdentifierOptions = z.output<typeof identifierSchema>;

const HEX = /^[0-9a-fA-F]{32}$/;

/** Whether a string is a well-formed passkey (32 hex characters, any case). */
export function isPasskey(passkey: string): boolean {
  return HEX.test(passkey);
}

/** The passkey's own 16 bytes. */
export const passkeyBytes = (passkey: string): Buffer => Buffer.from(passkey, 'hex');

/** Keys made for reuse; cleared when full (a site has far fewer active users than this). */
const CACHE_LIMIT = 1 << 17;

const newCache = (): RecordIndex<Buffer> => new RecordIndex(16, passkeyWords);

/** `keyOf`: a well-formed passkey's key (default: its bytes). */
export function createPasskeyIdentifier(opts: IdentifierOptions, keyOf: (passkey: string) => Buffer = passkeyBytes): UserIdentifier {
  const { from, name } = opts;
  // The same few passkeys announce over and over: each is checked and keyed once, which saves a
  // regex, the key and a Buffer per announce. The returned Buffers are shared: callers must not modify them.
  // By the passkey's bytes, not in a Map keyed by the string: a passkey sliced from the URL was
  // hashed character by character on every look-up (record-index.ts). Only well-formed passkeys
  // are stored, and a passkey keys the same in either case (isPasskey, passkeyBytes, forPasskey).
  let cache = newCache();
  return {
    identify(ctx: RequestContext): Buffer {
      let passkey: string | undefined;
      if (from !== 'query') passkey = ctx.params[name];
      if (passkey === undefined && from !== 'param') passkey = ctx.query[name];
      if (passkey === undefined || passkey === '') throw new ClientError('UNAUTHORIZED', `missing ${name}`);
      const known = cache.get(passkey);
      if (known !== undefined) return known;
      if (!isPasskey(passkey)) throw new ClientError('UNAUTHORIZED', `malformed ${name}: expected 32 hex characters`);
      const id = keyOf(passkey);
      if (cache.size >= CACHE_LIMIT) cache = newCache();
      cache.set(passkey, id);
      return id;
    },
  };
}
