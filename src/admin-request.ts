/**
 * What the two token-guarded parts of the metrics listener share: the admin API
 * (access/admin-api.ts) and the status page (metrics/status-auth.ts) both check a secret from a
 * request and read a small request body with a bound.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * A check of a secret against the expected one. Compared as SHA-256 digests: equal lengths for
 * timingSafeEqual, and no early exit on the first differing byte.
 */
export function secretMatcher(expected: string): (given: string) => boolean {
  const want = digest(expected);
  return (given) => timingSafeEqual(digest(given), want);
}

/** True for a request whose Authorization header is `Bearer <token>`. */
export function bearerMatcher(token: string): (req: IncomingMessage) => boolean {
  const matches = secretMatcher(`Bearer ${token}`);
  return (req) => {
    const header = req.headers['authorization'];
    return typeof header === 'string' && matches(header);
  };
}

/** The request's body, or undefined once it grows past `maxBytes` (the request is then destroyed). */
export function readBodyUpTo(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}
