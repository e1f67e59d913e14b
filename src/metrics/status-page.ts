/**
 * The status page on the metrics listener:
 *
 *   GET  /status                 the page (src/metrics/status/index.html)
 *   GET  /status/status.js       its script: polls /status.json every 2 s, draws the charts
 *   GET  /status/status.css      its style
 *   GET  /status.json            the numbers (status-summary.ts), computed from the metrics registry
 *   POST /status/login           form field `token`: sets the status cookie (status-auth.ts)
 *
 * With an admin token set, everything but the login form needs it (status-auth.ts says how a
 * browser sends it); without one the page is as open as /metrics on the same listener.
 * The files are plain HTML, CSS and JavaScript read from the package, no CDN and no build step:
 * trackers often run on closed networks.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { maskSecrets } from '../config/mask-secrets.js';
import type { ExtraRoutes } from './server.js';
import { StatusAuth, readLoginToken } from './status-auth.js';
import { closeIfUnread } from '../admin-request.js';
import { summarize, type MetricsJson } from './status-summary.js';

const ASSETS = {
  '/status': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
  '/status/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
} as const;

/** Scripts and styles from this listener only; no inline code, no framing, no outside requests. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * The folder of the page's files. They are not compiled: they stay in src/metrics/status, which
 * package.json ships. Compiled code runs from dist/src/metrics, so both places are tried.
 */
function assetDir(): string | undefined {
  const candidates = [new URL('./status/', import.meta.url), new URL('../../../src/metrics/status/', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((d) => existsSync(`${d}index.html`));
}

export interface StatusPageOptions {
  /** The metrics to show (status-metrics.ts: without resetting what a Prometheus scrape reads). */
  readonly read: () => Promise<MetricsJson>;
  /** The running configuration; shown with its secrets masked. */
  readonly config: unknown;
  /** The admin token ("" or undefined: the page is open). */
  readonly token?: string;
}

export function createStatusRoutes(opts: StatusPageOptions): ExtraRoutes {
  const auth = opts.token === undefined || opts.token === '' ? undefined : new StatusAuth(opts.token);
  const maskedConfig = maskSecrets(opts.config);
  const dir = assetDir();
  const files = new Map<string, Buffer>();
  const asset = (name: string): Buffer | undefined => {
    if (dir === undefined) return undefined;
    let body = files.get(name);
    if (body === undefined) files.set(name, (body = readFileSync(`${dir}${name}`)));
    return body;
  };

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...extra });
    res.end(body);
  };
  const loginForm = (res: ServerResponse, failed: boolean) => {
    const page = asset('login.html');
    if (page === undefined) return send(res, 500, 'text/plain', 'status page files are missing from the package\n');
    const message = failed ? 'Wrong token.' : 'This tracker has an admin token: enter it to see the status page.';
    send(res, 401, 'text/html; charset=utf-8', page.toString('utf8').replace('<!--message-->', message));
  };

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path === '/favicon.ico' && req.method === 'GET') {
      // Browsers ask for it on every page: an empty answer instead of a 404 in the console.
      send(res, 204, 'image/x-icon', '');
      return true;
    }
    if (path !== '/status' && path !== '/status.json' && !path.startsWith('/status/')) return false;
    const method = req.method ?? 'GET';
    if (path === '/status/login' && method === 'POST') {
      if (auth === undefined) {
        send(res, 303, 'text/plain', '', { location: '/status' });
        return true;
      }
      readLoginToken(req).then(
        (token) => {
          closeIfUnread(req, res); // a form too large was not read to its end
          if (token !== undefined && auth.tokenMatches(token)) send(res, 303, 'text/plain', '', { location: '/status', 'set-cookie': auth.setCookie() });
          else loginForm(res, true);
        },
        () => res.destroy(),
      );
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET' });
      return true;
    }
    if (auth !== undefined && !auth.allows(req)) {
      if (path === '/status') loginForm(res, false);
      else send(res, 401, 'application/json', '{"error":"missing or wrong admin token"}\n', { 'www-authenticate': 'Bearer' });
      return true;
    }
    if (path === '/status.json') {
      opts.read().then(
        (metrics) => send(res, 200, 'application/json', JSON.stringify(summarize(metrics, maskedConfig))),
        (err: Error) => send(res, 500, 'application/json', JSON.stringify({ error: `metrics error: ${err.message}` })),
      );
      return true;
    }
    const known = ASSETS[path as keyof typeof ASSETS];
    const body = known === undefined ? undefined : asset(known.file);
    if (known === undefined) send(res, 404, 'text/plain', 'not found\n');
    else if (body === undefined) send(res, 500, 'text/plain', 'status page files are missing from the package\n');
    else send(res, 200, known.type, body);
    return true;
  };
}
