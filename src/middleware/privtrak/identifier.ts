/**
 * User identifiers: derive the 16-byte user ID from an announce. The shipped one reads a
 * 32-hex-character passkey from a route parameter (which is also where the UDP frontend puts
 * BEP 41 URL data) or from a query parameter; the user ID is the passkey's 16 bytes, so the
 * same passkey is the same user over HTTP and UDP, and its hex form names the user everywhere.
 */
import { z } from 'zod';
import { ClientError } from '../../bittorrent/errors.js';
import type { RequestContext } from '../context.js';

export interface UserIdentifier {
  /** Returns the 16-byte user ID or throws a ClientError saying why there is none. */
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

/** Decodes a passkey; undefined if it is not 32 hex characters. */
export function passkeyToUserId(passkey: string): Buffer | undefined {
  return HEX.test(passkey) ? Buffer.from(passkey, 'hex') : undefined;
}

/** Decoded passkeys kept for reuse; cleared when full (a site has far fewer active users than this). */
const CACHE_LIMIT = 1 << 17;

export function createPasskeyIdentifier(opts: IdentifierOptions): UserIdentifier {
  const { from, name } = opts;
  // The same few passkeys announce over and over: decoding each once saves a regex, a hex decode
  // and a Buffer per announce. The returned Buffers are shared: callers must not modify them.
  const cache = new Map<string, Buffer>();
  return {
    identify(ctx: RequestContext): Buffer {
      let passkey: string | undefined;
      if (from !== 'query') passkey = ctx.params[name];
      if (passkey === undefined && from !== 'param') passkey = ctx.query[name];
      if (passkey === undefined || passkey === '') throw new ClientError('UNAUTHORIZED', `missing ${name}`);
      const known = cache.get(passkey);
      if (known !== undefined) return known;
      const id = passkeyToUserId(passkey);
      if (id === undefined) throw new ClientError('UNAUTHORIZED', `malformed ${name}: expected 32 hex characters`);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(passkey, id);
      return id;
    },
  };
}
