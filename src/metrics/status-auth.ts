/**
 * Who may see the status page when an admin token is set (registry.admin_token): a request with
 * `Authorization: Bearer <token>` (curl, scripts), or a browser holding the status cookie.
 *
 * A browser gets the cookie from a small login form (POST /status/login, the token in the body:
 * never in a URL, where it would stay in history, logs and Referer headers). The cookie is not
 * the token but an HMAC of a fixed label keyed by it: it opens the status page only (the admin
 * API checks the Authorization header alone), needs no session state, outlives a restart, and
 * stops working when the token changes. HttpOnly (no script reads it) and SameSite=Strict (no
 * other site's page sends it). Not Secure: the metrics listener speaks plain HTTP, normally on
 * loopback; reach it from afar through an SSH tunnel or a TLS proxy.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const STATUS_COOKIE = 'privtrak_status';
/** Largest login body read (a form with one field). */
const MAX_LOGIN_BODY = 4096;

const digest = (s: string) => createHash('sha256').update(s).digest();

export class StatusAuth {
  private readonly bearer: Buffer;
  private readonly cookieValue: string;
  private readonly cookieDigest: Buffer;
  private readonly tokenDigest: Buffer;

  constructor(token: string) {
    // Compared as digests: equal lengths for timingSafeEqual, and no early exit on the first differing byte.
    this.bearer = digest(`Bearer ${token}`);
    this.tokenDigest = digest(token);
    this.cookieValue = createHmac('sha256', token).update('privtrak status page').digest('base64url');
    this.cookieDigest = digest(this.cookieValue);
  }

  /** True for a request carrying the bearer token or the status cookie. */
  allows(req: IncomingMessage): boolean {
    const header = req.headers['authorization'];
    if (typeof header === 'string' && timingSafeEqual(digest(header), this.bearer)) return true;
    const cookie = readCookie(req.headers['cookie'], STATUS_COOKIE);
    return cookie !== undefined && timingSafeEqual(digest(cookie), this.cookieDigest);
  }

  /** True when `token` (from the login form) is the admin token. */
  tokenMatches(token: string): boolean {
    return timingSafeEqual(digest(token), this.tokenDigest);
  }

  /** The Set-Cookie header given after a good login: a session cookie for the whole listener. */
  setCookie(): string {
    return `${STATUS_COOKIE}=${this.cookieValue}; Path=/; HttpOnly; SameSite=Strict`;
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The `token` field of an urlencoded login form; undefined when the body is too large or has none. */
export function readLoginToken(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_LOGIN_BODY) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token');
      resolve(token ?? undefined);
    });
  });
}
