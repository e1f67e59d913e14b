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
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerMatcher, readBodyUpTo, secretMatcher } from '../admin-request.js';

export const STATUS_COOKIE = 'privtrak_status';
/** Largest login body read (a form with one field). */
const MAX_LOGIN_BODY = 4096;

export class StatusAuth {
  private readonly bearer: (req: IncomingMessage) => boolean;
  private readonly cookieValue: string;
  private readonly cookieMatches: (given: string) => boolean;
  private readonly tokenMatchesSecret: (given: string) => boolean;

  constructor(token: string) {
    this.bearer = bearerMatcher(token);
    this.tokenMatchesSecret = secretMatcher(token);
    this.cookieValue = createHmac('sha256', token).update('privtrak status page').digest('base64url');
    this.cookieMatches = secretMatcher(this.cookieValue);
  }

  /** True for a request carrying the bearer token or the status cookie. */
  allows(req: IncomingMessage): boolean {
    if (this.bearer(req)) return true;
    const cookie = readCookie(req.headers['cookie'], STATUS_COOKIE);
    return cookie !== undefined && this.cookieMatches(cookie);
  }

  /** True when `token` (from the login form) is the admin token. */
  tokenMatches(token: string): boolean {
    return this.tokenMatchesSecret(token);
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
export async function readLoginToken(req: IncomingMessage): Promise<string | undefined> {
  const body = await readBodyUpTo(req, MAX_LOGIN_BODY);
  if (body === undefined) return undefined;
  return new URLSearchParams(body.toString('utf8')).get('token') ?? undefined;
}
