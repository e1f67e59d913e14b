/**
 * The HTTP frontend on a raw `net` server. A tracker answers one GET line, so instead of
 * node:http (whose per-request objects, header maps and event plumbing cost more than the
 * announce itself) this reads the request line and the few headers it needs, and writes a
 * complete response in one `write`. This is what opentracker does; BENCHMARKS.md shows the
 * difference. Bodies are not supported (trackers take none): a request with one is refused.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { HttpConfig } from '../../config/schema.js';
import type { Frontend, FrontendDeps } from '../frontend.js';
import { ClientError, isClientError, publicReason } from '../../bittorrent/errors.js';
import { createContext, type RequestContext } from '../../middleware/context.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse } from '../../bittorrent/types.js';
import { normalizeIp } from '../../bittorrent/ip.js';
import { splitHostPort } from '../../net-addr.js';
import { compileRoutes, type RouteMatcher } from './router.js';
import { parseAnnounce, parseScrape } from './parser.js';
import { frameResponse, writeAnnounceBody, writeFailureBody, writeScrapeBody } from './writer.js';
import type { Action } from '../../metrics/metrics.js';

interface RequestHead {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly keepAlive: boolean;
  readonly userAgent: string | undefined;
  readonly forwardedFor: string | undefined;
  readonly hasBody: boolean;
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function';
}

export class HttpFrontend implements Frontend {
  readonly name = 'http';
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly matchAnnounce: RouteMatcher;
  private readonly matchScrape: RouteMatcher;
  private readonly realIpHeader: string;
  private closing = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly cfg: HttpConfig, private readonly deps: FrontendDeps) {
    this.matchAnnounce = compileRoutes(cfg.announce_routes);
    this.matchScrape = compileRoutes(cfg.scrape_routes);
    this.realIpHeader = cfg.real_ip_header.toLowerCase();
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.maxConnections = cfg.max_connections;
  }

  listen(): Promise<void> {
    const { host, port } = splitHostPort(this.cfg.addr);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog: 4096 }, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => this.deps.logger.error({ err }, 'http server error'));
        this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(1000, this.cfg.read_timeout)).unref();
        resolve();
      });
    });
  }

  port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /**
   * Time limits without a timer per socket: one sweep a second closes connections past their
   * deadline (read_timeout for a request, idle_timeout between keep-alive requests). A timer per
   * connection cost more than the rest of accepting it (BENCHMARKS.md, connection close).
   */
  private sweep(nowMs: number): void {
    for (const s of this.sockets) if ((s as unknown as SocketState).deadline < nowMs) s.destroy();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Idle keep-alive connections would hold close() open: end them; busy ones finish their reply.
    for (const s of this.sockets) if (!(s as unknown as SocketState).inFlight) s.end();
    const grace = setTimeout(() => { for (const s of this.sockets) s.destroy(); }, 2000);
    grace.unref();
    await closed;
    clearTimeout(grace);
  }

  private accept(socket: Socket): void {
    const state = socket as unknown as SocketState;
    state.rx = '';
    state.inFlight = false;
    state.done = false;
    state.deadline = Date.now() + this.cfg.read_timeout;
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      if (state.done) return; // answered with "Connection: close": anything after is ignored
      state.rx += chunk.toString('latin1');
      if (!state.inFlight) this.drain(state);
    });
  }

  /** Handles every complete request buffered on the socket, one at a time, in order. */
  private drain(socket: SocketState): void {
    while (!socket.destroyed) {
      const end = socket.rx.indexOf('\r\n\r\n');
      if (end < 0) {
        if (socket.rx.length > this.cfg.max_request_size) this.refuse(socket, 431, 'request too large');
        return;
      }
      if (end > this.cfg.max_request_size) {
        this.refuse(socket, 431, 'request too large');
        return;
      }
      const text = socket.rx.slice(0, end);
      socket.rx = socket.rx.slice(end + 4);
      const head = this.parseHead(text);
      if (head === undefined) {
        this.refuse(socket, 400, 'malformed request');
        return;
      }
      const result = this.handle(socket, head);
      if (result !== undefined) {
        socket.inFlight = true;
        result.then(() => {
          socket.inFlight = false;
          if (!head.keepAlive || this.closing) return;
          this.drain(socket);
        });
        return;
      }
      if (!head.keepAlive) return;
    }
  }

  private parseHead(text: string): RequestHead | undefined {
    const lineEnd = text.indexOf('\r\n');
    const line = lineEnd < 0 ? text : text.slice(0, lineEnd);
    const sp1 = line.indexOf(' ');
    const sp2 = line.lastIndexOf(' ');
    if (sp1 <= 0 || sp2 <= sp1) return undefined;
    const version = line.slice(sp2 + 1);
    if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return undefined;
    const target = line.slice(sp1 + 1, sp2);
    const q = target.indexOf('?');
    let connection: string | undefined;
    let userAgent: string | undefined;
    let forwardedFor: string | undefined;
    let hasBody = false;
    let pos = lineEnd < 0 ? text.length : lineEnd + 2;
    while (pos < text.length) {
      let next = text.indexOf('\r\n', pos);
      if (next < 0) next = text.length;
      const colon = text.indexOf(':', pos);
      if (colon > pos && colon < next) {
        const name = text.slice(pos, colon).toLowerCase();
        const value = text.slice(colon + 1, next).trim();
        if (name === 'connection') connection = value.toLowerCase();
        else if (name === 'user-agent') userAgent = value;
        else if (name === this.realIpHeader) forwardedFor = value;
        else if ((name === 'content-length' && value !== '0') || name === 'transfer-encoding') hasBody = true;
      }
      pos = next + 2;
    }
    const clientWantsKeepAlive = version === 'HTTP/1.1' ? connection !== 'close' : connection === 'keep-alive';
    return {
      method: line.slice(0, sp1),
      path: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? '' : target.slice(q + 1),
      keepAlive: this.cfg.keep_alive && clientWantsKeepAlive && !hasBody,
      userAgent,
      forwardedFor,
      hasBody,
    };
  }

  private refuse(socket: SocketState, status: number, reason: string): void {
    socket.end(frameResponse(status, writeFailureBody(reason), false));
    socket.rx = '';
  }

  private send(socket: SocketState, status: number, body: Buffer, keepAlive: boolean): void {
    if (socket.destroyed) return;
    const framed = frameResponse(status, body, keepAlive && !this.closing);
    if (keepAlive && !this.closing) {
      socket.write(framed);
      socket.deadline = Date.now() + this.cfg.idle_timeout;
    } else {
      // "Connection: close" tells the client to close; we only half-close after it does. The side
      // that closes first keeps the TIME_WAIT entry, so this leaves it with the client instead of
      // piling tens of thousands on the tracker (which, under load, made new connections collide
      // with old TIME_WAIT entries and stall). A client that has not closed within read_timeout is cut off by the sweep.
      socket.write(framed);
      socket.done = true;
      socket.rx = '';
      socket.deadline = Date.now() + this.cfg.read_timeout;
    }
  }

  private clientIp(socket: Socket, head: RequestHead): string | undefined {
    if (this.realIpHeader !== '' && head.forwardedFor) {
      // The right-most entry is the one our own proxy added; those to its left are client-supplied.
      const comma = head.forwardedFor.lastIndexOf(',');
      return normalizeIp((comma < 0 ? head.forwardedFor : head.forwardedFor.slice(comma + 1)).trim());
    }
    const ip = socket.remoteAddress;
    return ip === undefined ? undefined : normalizeIp(ip);
  }

  /** Returns a Promise only when a hook was asynchronous. */
  private handle(socket: SocketState, head: RequestHead): Promise<void> | undefined {
    const start = process.hrtime.bigint();
    if (head.method !== 'GET') {
      this.send(socket, 405, writeFailureBody('method not allowed'), false);
      this.deps.metrics.observe('http', 'other', 'client_error', start);
      return undefined;
    }
    if (head.hasBody) {
      this.send(socket, 400, writeFailureBody('request body not allowed'), false);
      this.deps.metrics.observe('http', 'other', 'client_error', start);
      return undefined;
    }
    const ip = this.clientIp(socket, head);
    if (ip === undefined) return undefined;
    let params = this.matchAnnounce(head.path);
    if (params !== null) return this.announce(socket, head, ip, params, start);
    params = this.matchScrape(head.path);
    if (params !== null) return this.scrape(socket, head, ip, params, start);
    this.send(socket, 404, writeFailureBody('not found'), head.keepAlive);
    this.deps.metrics.observe('http', 'other', 'client_error', start);
    return undefined;
  }

  private announce(socket: SocketState, head: RequestHead, ip: string, params: Record<string, string>, start: bigint): Promise<void> | undefined {
    let ctx: RequestContext;
    let req: AnnounceRequest;
    let result: AnnounceResponse | Promise<AnnounceResponse>;
    try {
      const parsed = parseAnnounce(head.query, ip, this.cfg);
      req = parsed.request;
      ctx = createContext(params, parsed.extra, head.userAgent);
      result = this.deps.chain.announce(ctx, req);
    } catch (err) {
      this.fail(socket, head, 'announce', err, start);
      return undefined;
    }
    if (!isPromise(result)) {
      this.finishAnnounce(socket, head, ctx, req, result, start);
      return undefined;
    }
    return result.then(
      (resp) => this.finishAnnounce(socket, head, ctx, req, resp, start),
      (err: unknown) => this.fail(socket, head, 'announce', err, start),
    );
  }

  private finishAnnounce(socket: SocketState, head: RequestHead, ctx: RequestContext, req: AnnounceRequest, resp: AnnounceResponse, start: bigint): void {
    this.send(socket, 200, writeAnnounceBody(req, resp), head.keepAlive);
    this.deps.metrics.observe('http', 'announce', 'ok', start);
    this.runPostHooks(() => this.deps.chain.afterAnnounce(ctx, req, resp));
  }

  private scrape(socket: SocketState, head: RequestHead, ip: string, params: Record<string, string>, start: bigint): Promise<void> | undefined {
    let ctx: RequestContext;
    let req: ScrapeRequest;
    let result: ScrapeResponse | Promise<ScrapeResponse>;
    try {
      const parsed = parseScrape(head.query, ip, this.cfg.max_scrape_infohashes);
      req = parsed.request;
      ctx = createContext(params, parsed.extra, head.userAgent);
      result = this.deps.chain.scrape(ctx, req);
    } catch (err) {
      this.fail(socket, head, 'scrape', err, start);
      return undefined;
    }
    const finish = (resp: ScrapeResponse): void => {
      this.send(socket, 200, writeScrapeBody(resp), head.keepAlive);
      this.deps.metrics.observe('http', 'scrape', 'ok', start);
      this.runPostHooks(() => this.deps.chain.afterScrape(ctx, req, resp));
    };
    if (!isPromise(result)) {
      finish(result);
      return undefined;
    }
    return result.then(finish, (err: unknown) => this.fail(socket, head, 'scrape', err, start));
  }

  private fail(socket: SocketState, head: RequestHead, action: Action, err: unknown, start: bigint): void {
    const client = isClientError(err);
    if (!client) this.deps.logger.error({ err, action }, 'internal error handling http request');
    const retryIn = client && (err as ClientError).code === 'TRACKER_BUSY' ? 1 : undefined;
    this.send(socket, 200, writeFailureBody(publicReason(err), retryIn), head.keepAlive);
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

/** Per-connection parse state, kept on the socket object to avoid a second allocation per connection. */
interface SocketState extends Socket {
  rx: string;
  inFlight: boolean;
  /** Epoch ms after which the sweep closes the connection. */
  deadline: number;
  /** The last reply said "Connection: close": waiting for the client to close. */
  done: boolean;
}

export function createHttpFrontend(cfg: HttpConfig, deps: FrontendDeps): Frontend {
  return new HttpFrontend(cfg, deps);
}
