/**
 * What the two token-guarded parts of the metrics listener share: the admin API
 * (access/admin-api.ts) and the status page (metrics/status-auth.ts) both check a secret from a
 * request and read a small request body with a bound.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * A check of a secret against the expected one. Compared as SHA-256 digests: equal lengths for
 * timingSafeEqual, and no early exit on the first differing byte.
 */
export function secretMatcher(expected: string): (given: string) => boolean {
  const want = digest(expected);
  return (given) => timingSafeEqual(digest(given), want);
}

/**
 * Before answering a request whose body was not read to its end (too large): `Connection: close`,
 * so Node ends the connection after the answer instead of reading and discarding what is left of
 * the body, which an endless body would make last until the request timeout.
 */
export function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (!req.complete) res.setHeader('connection', 'close');
}

/** True for a request whose Authorization header is `Bearer <token>`. */
export function bearerMatcher(token: string): (req: IncomingMessage) => boolean {
  const matches = secretMatcher(`Bearer ${token}`);
  return (req) => {
    const header = req.headers['authorization'];
    return typeof header === 'string' && matches(header);
  };
}

/**
 * The request's body, or undefined once it grows past `maxBytes`. The rest of a body that is too
 * large is not kept (later chunks are dropped) and the request is not destroyed, so the caller can
 * still answer (413); closeIfUnread() then makes that answer close the connection rather than
 * read on. (Destroying the request, as this did before, reset the connection: the client never
 * saw why.)
 */
export function readBodyUpTo(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      if (size > maxBytes) return;
      size += c.length;
      if (size > maxBytes) {
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}
