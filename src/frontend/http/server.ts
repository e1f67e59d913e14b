/**
 * The HTTP frontend. A tracker answers one GET line, so instead of node:http (whose
 * per-request objects, header maps and event plumbing cost more than the announce itself)
 * this reads the request line and the few headers it needs, and writes a complete response
 * in one write — what opentracker does. Under it is a TCP listener (connection.ts): libuv
 * handles directly by default, node:net as the fallback. BENCHMARKS.md shows the difference.
 * Bodies are not supported (trackers take none): a request with one is refused — except on a
 * site's control channel (frontend/control.ts), whose calls carry a small JSON body.
 * Load balancers' probes, GET /health and GET /ready (frontend/readiness.ts), are answered here too.
 */
import type { HttpConfig } from '../../config/schema.js';
import type { Frontend, FrontendDeps } from '../frontend.js';
import { answer } from '../answer.js';
import { ClientError, isClientError, publicReason } from '../../bittorrent/errors.js';
import { createContext, type RequestContext } from '../../middleware/context.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse } from '../../bittorrent/types.js';
import { normalizeIp } from '../../bittorrent/ip.js';
import { splitHostPort } from '../../net-addr.js';
import { compileRoutes, type RouteMatcher } from './router.js';
import { parseAnnounce, parseScrape } from './parser.js';
import { OpenConnections } from './open-connections.js';
import { frameResponse, writeAnnounceBody, writeFailureBody, writeScrapeBody } from './writer.js';
import type { Action } from '../../metrics/metrics.js';
import type { Connection, ConnectionHandlers, TcpListener } from './connection.js';
import { createRawTcpListener, rawTcpUnavailableReason } from './raw-tcp.js';
import { createNetTcpListener } from './net-tcp.js';
import type { ControlReply } from '../control.js';

/** The health-check bodies, made once. */
const HEALTH_OK = Buffer.from('ok\n', 'latin1');
const READY = Buffer.from('ready\n', 'latin1');

interface RequestHead {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly keepAlive: boolean;
  readonly userAgent: string | undefined;
  readonly forwardedFor: string | undefined;
  readonly hasBody: boolean;
  /** Content-Length (0 if none); -1 for a body of unknown length (Transfer-Encoding). */
  readonly contentLength: number;
}

/** Picks the TCP layer (`http.transport`): raw libuv handles when available, else node:net. */
function createListener(cfg: HttpConfig, handlers: ConnectionHandlers): { listener: TcpListener; transport: 'raw' | 'net'; why: string; fallback: boolean } {
  const opts = { maxConnections: cfg.max_connections };
  if (cfg.transport !== 'net') {
    const raw = createRawTcpListener(handlers, opts);
    if (raw !== undefined) return { listener: raw, transport: 'raw', why: '', fallback: false };
    if (cfg.transport === 'raw') throw new Error(`http.transport: raw: this Node does not expose the libuv TCP bindings (${rawTcpUnavailableReason()}); use auto or net`);
    return { listener: createNetTcpListener(handlers, opts), transport: 'net', why: `libuv TCP bindings unavailable: ${rawTcpUnavailableReason()}`, fallback: true };
  }
  return { listener: createNetTcpListener(handlers, opts), transport: 'net', why: 'http.transport: net', fallback: false };
}

export class HttpFrontend implements Frontend, ConnectionHandlers {
  readonly name = 'http';
  /** The TCP layer in use: 'raw' (libuv handles) or 'net' (node:net). */
  readonly transport: 'raw' | 'net';
  /** Why the transport is 'net' ('' when it is 'raw'), and whether that is a fallback (auto found no bindings) rather than the config's choice. */
  readonly transportReason: string;
  readonly transportFallback: boolean;
  /** The host bound ('::' dual-stack, or '0.0.0.0' where there is no IPv6, or the configured one). */
  boundHost = '';
  private readonly listener: TcpListener;
  private readonly connections = new OpenConnections();
  /** Open connections per client address, when max_connections_per_ip is set. */
  private readonly perIp = new Map<string, number>();
  private readonly maxBuffered: number;
  private readonly matchAnnounce: RouteMatcher;
  private readonly matchScrape: RouteMatcher;
  private readonly realIpHeader: string;
  /** Largest control body: what fits in max_buffered_bytes beside a request head (reading pauses past it). */
  private readonly maxControlBody: number;
  private closing = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly cfg: HttpConfig, private readonly deps: FrontendDeps) {
    this.matchAnnounce = compileRoutes(cfg.announce_routes);
    this.matchScrape = compileRoutes(cfg.scrape_routes);
    this.realIpHeader = cfg.real_ip_header.toLowerCase();
    const { listener, transport, why, fallback } = createListener(cfg, this);
    this.listener = listener;
    this.transport = transport;
    this.transportReason = why;
    this.transportFallback = fallback;
    this.maxBuffered = cfg.max_buffered_bytes;
    this.maxControlBody = Math.max(0, cfg.max_buffered_bytes - cfg.max_request_size);
    deps.metrics.httpConnectionsOpen(() => this.connections.size);
  }

  async listen(): Promise<void> {
    const { host, port } = splitHostPort(this.cfg.addr);
    this.boundHost = await this.listener.listen(host, port, 4096);
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(1000, this.cfg.read_timeout)).unref();
  }

  port(): number {
    return this.listener.port();
  }

  /**
   * Time limits without a timer per connection: one sweep a second closes connections past
   * their deadline (read_timeout for a request, idle_timeout between keep-alive requests). A
   * timer per connection cost more than the rest of accepting it (BENCHMARKS.md).
   */
  private sweep(nowMs: number): void {
    this.connections.forEach((c) => {
      if (c.deadline < nowMs) c.close();
    });
    for (const [ip, open] of this.perIp) if (open === 0) this.perIp.delete(ip);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const stopped = this.listener.close();
    // Idle keep-alive connections are told to go; busy ones finish their reply first.
    this.connections.forEach((c) => {
      if (!c.inFlight) c.shutdown();
    });
    await stopped;
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.connections.forEach((c) => c.close());
  }

  onConnection(conn: Connection): void {
    conn.deadline = Date.now() + this.cfg.read_timeout;
    this.connections.add(conn);
    const limit = this.cfg.max_connections_per_ip;
    if (limit > 0) {
      // The socket's address: behind a reverse proxy every client shares the proxy's (leave the limit off there).
      const ip = conn.remoteAddress();
      if (ip === undefined) return;
      const open = (this.perIp.get(ip) ?? 0) + 1;
      if (open > limit) {
        this.deps.metrics.httpConnectionsRefused.labels('per_ip').inc();
        conn.close();
        return;
      }
      this.perIp.set(ip, open);
      conn.countedIp = ip;
    }
  }

  onClose(conn: Connection): void {
    this.connections.delete(conn);
    const ip = conn.countedIp;
    if (ip !== undefined) {
      conn.countedIp = undefined;
      // An address at 0 stays until the next sweep: deleting here would rebuild the long-lived
      // map's table per connection, in the old generation (the reason for OpenConnections).
      this.perIp.set(ip, this.perIp.get(ip)! - 1);
    }
  }

  onRefused(): void {
    this.deps.metrics.httpConnectionsRefused.labels('max_connections').inc();
  }

  onData(conn: Connection, text: string): void {
    if (conn.done) return; // answered with "Connection: close": anything after is ignored
    conn.rx = conn.rx === '' ? text : conn.rx + text;
    if (!conn.inFlight) this.drain(conn);
    this.flowControl(conn);
  }

  /** The kernel took every queued reply byte: requests held back for it can be answered now. */
  onDrained(conn: Connection): void {
    if (!conn.inFlight) this.drain(conn);
    this.flowControl(conn);
  }

  /**
   * Bounds what one connection costs: past max_buffered_bytes of unanswered requests (a client
   * pipelining while one is answered asynchronously) or of replies the kernel has not taken (a
   * client that does not read), the tracker stops reading from it. Its requests then wait in the
   * kernel's buffers and TCP flow control makes the client wait; the rest of the tracker goes on.
   */
  private flowControl(conn: Connection): void {
    if (conn.closed) return;
    if (conn.rx.length > this.maxBuffered || conn.queuedBytes > this.maxBuffered) conn.pauseReading();
    else conn.resumeReading();
  }

  /** Handles every complete request buffered on the connection, one at a time, in order, while replies are being taken. */
  private drain(conn: Connection): void {
    while (!conn.closed && !conn.done && conn.queuedBytes <= this.maxBuffered) {
      const end = conn.rx.indexOf('\r\n\r\n');
      if (end < 0) {
        if (conn.rx.length > this.cfg.max_request_size) this.refuse(conn, 431, 'request too large');
        return;
      }
      if (end > this.cfg.max_request_size) {
        this.refuse(conn, 431, 'request too large');
        return;
      }
      const text = conn.rx.length === end + 4 ? conn.rx : conn.rx.slice(0, end);
      const head = this.parseHead(text, end);
      if (head === undefined) {
        this.refuse(conn, 400, 'malformed request');
        return;
      }
      if (this.deps.control !== undefined && this.deps.control.matches(head.path)) {
        // A control call: wait for its whole body, then hand it over (the reply closes the connection).
        if (head.contentLength < 0) {
          this.refuse(conn, 411, 'a body needs Content-Length');
          return;
        }
        if (head.contentLength > this.maxControlBody) {
          this.refuse(conn, 413, 'request body too large');
          return;
        }
        if (conn.rx.length < end + 4 + head.contentLength) return; // more of the body to come
        const body = Buffer.from(conn.rx.slice(end + 4, end + 4 + head.contentLength), 'latin1');
        conn.rx = '';
        this.control(conn, head, body);
        return;
      }
      conn.rx = conn.rx.length === end + 4 ? '' : conn.rx.slice(end + 4);
      if (this.handle(conn, head)) return; // answered later: reply() resumes the connection
      if (!head.keepAlive) return;
    }
  }

  /** Parses the request line and the three headers we use from `text` (which has `length` head bytes). */
  private parseHead(text: string, length: number): RequestHead | undefined {
    let lineEnd = text.indexOf('\r\n');
    if (lineEnd < 0 || lineEnd > length) lineEnd = length;
    const sp1 = text.indexOf(' ');
    const sp2 = text.lastIndexOf(' ', lineEnd);
    if (sp1 <= 0 || sp2 <= sp1) return undefined;
    const http11 = text.startsWith('HTTP/1.1', sp2 + 1);
    if (sp2 + 9 !== lineEnd || (!http11 && !text.startsWith('HTTP/1.0', sp2 + 1))) return undefined;
    const q = text.indexOf('?', sp1);
    const hasQuery = q >= 0 && q < sp2;
    let connection: string | undefined;
    let userAgent: string | undefined;
    let forwardedFor: string | undefined;
    let hasBody = false;
    let contentLength = 0;
    let pos = lineEnd + 2;
    while (pos < length) {
      let next = text.indexOf('\r\n', pos);
      if (next < 0 || next > length) next = length;
      const colon = text.indexOf(':', pos);
      if (colon > pos && colon < next) {
        const name = text.slice(pos, colon).toLowerCase();
        if (name === 'connection') connection = text.slice(colon + 1, next).trim().toLowerCase();
        else if (name === 'user-agent') userAgent = text.slice(colon + 1, next).trim();
        else if (name === this.realIpHeader) forwardedFor = text.slice(colon + 1, next).trim();
        else if (name === 'transfer-encoding') {
          hasBody = true;
          contentLength = -1;
        } else if (name === 'content-length') {
          const v = text.slice(colon + 1, next).trim();
          if (!/^\d{1,15}$/.test(v)) return undefined;
          if (contentLength >= 0) contentLength = Number(v);
          if (contentLength !== 0) hasBody = true;
        }
      }
      pos = next + 2;
    }
    const clientWantsKeepAlive = http11 ? connection !== 'close' : connection === 'keep-alive';
    return {
      method: text.slice(0, sp1),
      path: text.slice(sp1 + 1, hasQuery ? q : sp2),
      query: hasQuery ? text.slice(q + 1, sp2) : '',
      keepAlive: this.cfg.keep_alive && clientWantsKeepAlive && !hasBody,
      userAgent,
      forwardedFor,
      hasBody,
      contentLength,
    };
  }

  private refuse(conn: Connection, status: number, reason: string): void {
    this.send(conn, status, writeFailureBody(reason), false);
  }

  private send(conn: Connection, status: number, body: Buffer, keepAlive: boolean, contentType?: string, headOnly = false): void {
    if (conn.closed) return;
    const open = keepAlive && !this.closing;
    if (open) {
      conn.noDelay();
      conn.write(frameResponse(status, body, true, contentType, headOnly));
      conn.deadline = Date.now() + this.cfg.idle_timeout;
      return;
    }
    // "Connection: close": the server closes after the response (RFC 9112 §9.6). FIN once the
    // reply is written, so a client reading to the end of the stream is done at once. The handle
    // itself closes when the client's FIN arrives (or the sweep cuts it off after read_timeout):
    // closing it now, with request bytes unread, would make the kernel send RST, which can
    // destroy the reply on its way.
    conn.done = true;
    conn.rx = '';
    conn.deadline = Date.now() + this.cfg.read_timeout;
    conn.writeLast(frameResponse(status, body, false, contentType, headOnly));
  }

  private clientIp(conn: Connection, head: RequestHead): string | undefined {
    if (this.realIpHeader !== '' && head.forwardedFor) {
      // The right-most entry is the one our own proxy added; those to its left are client-supplied.
      const comma = head.forwardedFor.lastIndexOf(',');
      return normalizeIp((comma < 0 ? head.forwardedFor : head.forwardedFor.slice(comma + 1)).trim());
    }
    const ip = conn.remoteAddress();
    return ip === undefined ? undefined : normalizeIp(ip);
  }

  /** Returns true while the request is still being answered (a hook was asynchronous). */
  private handle(conn: Connection, head: RequestHead): boolean {
    const start = process.hrtime.bigint();
    // Load balancers probe with HEAD as often as with GET (HAProxy's `option httpchk HEAD /ready`).
    if (head.method === 'HEAD' && this.cfg.health_checks && !head.hasBody && this.healthCheck(conn, head, start)) return false;
    if (head.method !== 'GET') {
      this.send(conn, 405, writeFailureBody('method not allowed'), false);
      this.deps.metrics.observe('http', 'other', 'client_error', start);
      return false;
    }
    if (head.hasBody) {
      this.send(conn, 400, writeFailureBody('request body not allowed'), false);
      this.deps.metrics.observe('http', 'other', 'client_error', start);
      return false;
    }
    const ip = this.clientIp(conn, head);
    if (ip === undefined) return false;
    let params = this.matchAnnounce(head.path);
    if (params !== null) return this.announce(conn, head, ip, params, start);
    params = this.matchScrape(head.path);
    if (params !== null) return this.scrape(conn, head, ip, params, start);
    // After the routes, so announces pay nothing for it (the config refuses a route that would hide these).
    if (this.cfg.health_checks && this.healthCheck(conn, head, start)) return false;
    this.send(conn, 404, writeFailureBody('not found'), head.keepAlive);
    this.deps.metrics.observe('http', 'other', 'client_error', start);
    return false;
  }

  /**
   * `GET /health`: 200 while this process serves. `GET /ready`: 200 when it is ready to count,
   * else 503 and why (frontend/readiness.ts). For load balancers: unauthenticated, nothing about
   * users, no allocation beyond the reply. HEAD gets the same status and headers without the body.
   * Returns false for any other path.
   */
  private healthCheck(conn: Connection, head: RequestHead, start: bigint): boolean {
    const headOnly = head.method === 'HEAD';
    if (head.path === '/health') {
      this.send(conn, 200, HEALTH_OK, head.keepAlive, undefined, headOnly);
    } else if (head.path === '/ready') {
      const why = this.deps.readiness?.();
      if (why === undefined) this.send(conn, 200, READY, head.keepAlive, undefined, headOnly);
      else this.send(conn, 503, Buffer.from(`not ready: ${why}\n`, 'utf8'), head.keepAlive, undefined, headOnly);
    } else {
      return false;
    }
    this.deps.metrics.observe('http', 'other', 'ok', start);
    return true;
  }

  /** A site's control call (frontend/control.ts): its reply, then close. */
  private control(conn: Connection, head: RequestHead, body: Buffer): void {
    const start = process.hrtime.bigint();
    const ip = this.clientIp(conn, head);
    if (ip === undefined) return;
    let result: Promise<ControlReply>;
    try {
      result = this.deps.control!.handle({ method: head.method, path: head.path, query: head.query, body, ip });
    } catch (err) {
      result = Promise.reject(err);
    }
    const closeHead = { ...head, keepAlive: false };
    this.reply(conn, closeHead, result, (r) => {
      this.send(conn, r.status, typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body, false, r.contentType);
      this.deps.metrics.observe('http', 'other', r.status < 400 ? 'ok' : 'client_error', start);
    }, (err) => {
      this.deps.logger.error({ err, path: head.path.replace(/\/[^/]{16,}(?=\/|$)/g, '/…') }, 'control call failed');
      this.send(conn, 500, Buffer.from('internal server error'), false);
      this.deps.metrics.observe('http', 'other', 'internal_error', start);
    });
  }

  private announce(conn: Connection, head: RequestHead, ip: string, params: Record<string, string>, start: bigint): boolean {
    let ctx: RequestContext;
    let req: AnnounceRequest;
    let result: AnnounceResponse | Promise<AnnounceResponse>;
    try {
      const parsed = parseAnnounce(head.query, ip, this.cfg);
      req = parsed.request;
      ctx = createContext(params, parsed.extra, head.userAgent);
      result = this.deps.chain.announce(ctx, req);
    } catch (err) {
      this.fail(conn, head, 'announce', err, start);
      return false;
    }
    return this.reply(conn, head, result, (resp) => this.finishAnnounce(conn, head, ctx, req, resp, start),
      (err) => this.fail(conn, head, 'announce', err, start));
  }

  /**
   * Answers now if every hook was synchronous (returns false), else when they are done
   * (returns true): one promise per request, a refusal or a throw in finish() becomes the
   * failure reason, and the connection then goes on to its next pipelined request.
   */
  private reply<R>(conn: Connection, head: RequestHead, result: R | Promise<R>, finish: (resp: R) => void, fail: (err: unknown) => void): boolean {
    const later = answer(result, finish, fail, () => this.resume(conn, head));
    // Set before any promise callback can run: pipelined requests wait until resume().
    if (later) conn.inFlight = true;
    return later;
  }

  private resume(conn: Connection, head: RequestHead): void {
    conn.inFlight = false;
    if (head.keepAlive && !this.closing) this.drain(conn);
    this.flowControl(conn);
  }

  private finishAnnounce(conn: Connection, head: RequestHead, ctx: RequestContext, req: AnnounceRequest, resp: AnnounceResponse, start: bigint): void {
    this.send(conn, 200, writeAnnounceBody(req, resp), head.keepAlive);
    this.deps.metrics.observe('http', 'announce', 'ok', start);
    this.runPostHooks(() => this.deps.chain.afterAnnounce(ctx, req, resp));
  }

  private scrape(conn: Connection, head: RequestHead, ip: string, params: Record<string, string>, start: bigint): boolean {
    let ctx: RequestContext;
    let req: ScrapeRequest;
    let result: ScrapeResponse | Promise<ScrapeResponse>;
    try {
      const parsed = parseScrape(head.query, ip, this.cfg.max_scrape_infohashes);
      req = parsed.request;
      ctx = createContext(params, parsed.extra, head.userAgent);
      result = this.deps.chain.scrape(ctx, req);
    } catch (err) {
      this.fail(conn, head, 'scrape', err, start);
      return false;
    }
    const finish = (resp: ScrapeResponse): void => {
      this.send(conn, 200, writeScrapeBody(resp), head.keepAlive);
      this.deps.metrics.observe('http', 'scrape', 'ok', start);
      this.runPostHooks(() => this.deps.chain.afterScrape(ctx, req, resp));
    };
    return this.reply(conn, head, result, finish, (err) => this.fail(conn, head, 'scrape', err, start));
  }

  private fail(conn: Connection, head: RequestHead, action: Action, err: unknown, start: bigint): void {
    const client = isClientError(err);
    if (!client) this.deps.logger.error({ err, action }, 'internal error handling http request');
    const retryIn = client && (err as ClientError).code === 'TRACKER_BUSY' ? 1 : undefined;
    this.send(conn, 200, writeFailureBody(publicReason(err), retryIn), head.keepAlive);
    this.deps.metrics.observe('http', action, client ? 'client_error' : 'internal_error', start);
  }

  private runPostHooks(run: () => void | Promise<void>): void {
    try {
      const r = run();
      if (r !== undefined) r.catch((err: unknown) => this.deps.logger.error({ err }, 'post-hook failed'));
    } catch (err) {
      this.deps.logger.error({ err }, 'post-hook failed');
    }
  }
}

export function createHttpFrontend(cfg: HttpConfig, deps: FrontendDeps): HttpFrontend {
  return new HttpFrontend(cfg, deps);
}
