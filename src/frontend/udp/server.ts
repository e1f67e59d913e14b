/**
 * The UDP frontend (BEP 15, BEP 41), on the native batched socket (batch-socket.ts: recvmmsg and
 * sendmmsg, one call into JavaScript per batch) or on node:dgram (`udp.transport`). Parsing and
 * writing live in src/bittorrent/udp-codec.ts; this file routes packets through the hook chain.
 * BEP 41 URL data is matched against the HTTP announce routes, so a passkey in
 * udp://HOST:PORT/<passkey>/announce reaches hooks as ctx.params.passkey, as over HTTP.
 */
import cluster from 'node:cluster';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { UdpConfig } from '../../config/schema.js';
import type { Frontend, FrontendDeps } from '../frontend.js';
import { answer } from '../answer.js';
import type { Action } from '../../metrics/metrics.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse } from '../../bittorrent/types.js';
import { ClientError, isClientError, publicReason } from '../../bittorrent/errors.js';
import { makePeer, normalizeIp } from '../../bittorrent/ip.js';
import { sanitizeNumWant, validatePort } from '../../bittorrent/sanitize.js';
import { decodeQuery } from '../../bittorrent/query.js';
import {
  ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_SCRAPE, UdpDecodeError, decodeRequest, encodeAnnounceResponse,
  encodeConnectResponse, encodeErrorResponse, encodeScrapeResponse, type UdpAnnounceRequest, type UdpScrapeRequest,
} from '../../bittorrent/udp-codec.js';
import { createContext, type RequestContext } from '../../middleware/context.js';
import { listenDualStack, splitHostPort } from '../../net-addr.js';
import { compileRoutes, type RouteMatcher } from '../http/router.js';
import { ConnectionIds } from './connection-id.js';
import { BatchSocket, batchUdpNative } from './batch-socket.js';
import { nativeUnavailableReason } from '../../native/addon.js';

/** Largest datagram accepted: a scrape of max_scrape_infohashes, or an announce with 255 bytes of URL data. */
function maxPacketSize(cfg: UdpConfig): number {
  return Math.max(16 + 20 * cfg.max_scrape_infohashes, 98 + 2 * 260);
}

type LookupCallback = (err: Error | null, address: string, family: number) => void;

/** dgram's address lookup for literal IPs: answers synchronously instead of via dns.lookup. */
function literalLookup(address: string, _opts: unknown, callback: LookupCallback): void {
  callback(null, address, isIPv6(address) ? 6 : 4);
}

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * The socket layer for `udp.transport`: the batched socket where the addon has it, except in a
 * `--workers` worker (the workers share the primary's dgram socket through node:cluster).
 */
export function chooseUdpTransport(transport: UdpConfig['transport'], native = batchUdpNative() !== undefined, worker = cluster.isWorker): 'batch' | 'dgram' {
  if (transport === 'dgram') return 'dgram';
  if (transport === 'batch') {
    if (worker) throw new Error('udp.transport: batch cannot be used with --workers (the workers share one node:dgram socket): use auto or dgram');
    if (!native) throw new Error(`udp.transport: batch needs the native addon's batched socket (Linux), which is not loadable (${nativeUnavailableReason() || 'not built'}): run npm install with python3, make and a C compiler, or use auto or dgram`);
    return 'batch';
  }
  return native && !worker ? 'batch' : 'dgram';
}

export class UdpFrontend implements Frontend {
  readonly name = 'udp';
  private socket: Socket | undefined;
  private batchSocket: BatchSocket | undefined;
  /** The socket layer in use, once listening. */
  transport: 'batch' | 'dgram' | undefined;
  private readonly ids: ConnectionIds;
  private readonly matchRoute: RouteMatcher;
  private readonly maxSize: number;
  /** The host bound ('::' dual-stack, '0.0.0.0' where there is no IPv6, or the configured one). */
  boundHost = '';

  constructor(private readonly cfg: UdpConfig, announceRoutes: string[], private readonly deps: FrontendDeps) {
    this.ids = new ConnectionIds(cfg.private_key, cfg.connection_id_lifetime, cfg.max_clock_skew);
    this.matchRoute = compileRoutes(announceRoutes);
    this.maxSize = maxPacketSize(cfg);
  }

  async listen(): Promise<void> {
    const { host, port } = splitHostPort(this.cfg.addr);
    const transport = chooseUdpTransport(this.cfg.transport);
    this.boundHost = await listenDualStack(host, (h) => (transport === 'batch' ? this.bindBatch(h, port) : this.bind(h, port)));
    this.transport = transport;
  }

  private async bindBatch(host: string, port: number): Promise<void> {
    const socket = new BatchSocket(batchUdpNative()!, host, port, {
      bufferSize: this.cfg.socket_buffer_size, maxDatagram: this.maxSize, coalesceUs: this.cfg.coalesce_us,
    },
      (msg, rinfo) => this.onMessage(msg, rinfo));
    this.batchSocket = socket;
    // Read at scrape time; what it counted stays after close (a counter never goes back).
    let last = socket.stats();
    this.deps.metrics.udpSocket(() => (this.batchSocket === socket ? (last = socket.stats()) : last));
  }

  /** Binds a new socket on `host` (udp6 for an IPv6 host: '::' takes IPv4 clients too, as ::ffff:a.b.c.d). */
  private bind(host: string, port: number): Promise<void> {
    const socket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      // Room for bursts: the kernel charges ~1-2 KB per queued datagram, so the default buffer
      // (≈208 KB) overflows at a couple of hundred packets in flight. Capped by net.core.rmem_max.
      recvBufferSize: this.cfg.socket_buffer_size,
      sendBufferSize: this.cfg.socket_buffer_size,
      // Replies go to the literal address a packet came from: skip dns.lookup and its extra tick.
      lookup: literalLookup,
    });
    return new Promise((resolve, reject) => {
      socket.once('error', (err) => {
        try {
          socket.close();
        } catch {
          // never bound: nothing to close
        }
        reject(err);
      });
      socket.bind(port, host, () => {
        socket.removeAllListeners('error');
        socket.on('error', (err) => this.deps.logger.error({ err }, 'udp socket error'));
        socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
        this.socket = socket;
        resolve();
      });
    });
  }

  port(): number {
    try {
      if (this.batchSocket !== undefined) return this.batchSocket.address().port;
      return this.socket?.address().port ?? 0;
    } catch {
      return 0;
    }
  }

  close(): Promise<void> {
    this.batchSocket?.close();
    this.batchSocket = undefined;
    const socket = this.socket;
    this.socket = undefined;
    return new Promise((resolve) => {
      if (socket === undefined) {
        resolve();
        return;
      }
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** Without a callback, send errors surface as the socket's 'error' event (logged above). */
  private send(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.batchSocket !== undefined) this.batchSocket.send(buf, rinfo);
    else this.socket?.send(buf, rinfo.port, rinfo.address);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const start = process.hrtime.bigint();
    let action: Action = 'other';
    let tid: number | undefined;
    // Until its connection ID checks out, the source address may be forged (BEP 15's reason for
    // connection IDs): an error reply is then sent only if it is no larger than the request, so
    // privtrak can never amplify a flood towards someone else.
    let verified = false;
    try {
      if (msg.length > this.maxSize) {
        tid = msg.length >= 16 ? msg.readUInt32BE(12) : undefined;
        throw new UdpDecodeError('REQUEST_TOO_LARGE', 'packet too large', tid);
      }
      const req = decodeRequest(msg);
      tid = req.transactionId;
      const ip = normalizeIp(rinfo.address);
      if (req.action === ACTION_CONNECT) {
        action = 'connect';
        this.send(encodeConnectResponse(tid, this.ids.issue(ip, Date.now())), rinfo);
        this.deps.metrics.observe('udp', 'connect', 'ok', start);
        return;
      }
      action = req.action === ACTION_ANNOUNCE ? 'announce' : 'scrape';
      if (!this.ids.valid(req.connectionId, ip, Date.now())) throw new ClientError('BAD_CONNECTION_ID', 'bad connection id');
      verified = true;
      if (req.action === ACTION_ANNOUNCE) this.announce(req, ip, rinfo, start);
      else this.scrape(req, ip, rinfo, start);
    } catch (err) {
      if (err instanceof UdpDecodeError && err.code === 'UNKNOWN_ACTION') action = 'other';
      this.fail(err, tid ?? (err instanceof UdpDecodeError ? err.transactionId : undefined), action, rinfo, start, verified ? Infinity : msg.length);
    }
  }

  /** Sends an error packet of at most `maxBytes` (the request's size for an unverified source; see onMessage). */
  private fail(err: unknown, tid: number | undefined, action: Action, rinfo: RemoteInfo, start: bigint, maxBytes = Infinity): void {
    const client = isClientError(err);
    if (!client) this.deps.logger.error({ err, action }, 'internal error handling udp request');
    // Without a transaction ID the client could not match a reply: drop silently.
    if (tid !== undefined) {
      const reply = encodeErrorResponse(tid, publicReason(err));
      if (reply.length <= maxBytes) this.send(reply, rinfo);
      else this.deps.metrics.udpRepliesWithheld.inc();
    }
    this.deps.metrics.observe('udp', action, client ? 'client_error' : 'internal_error', start);
  }

  /** Maps BEP 41 URL data ("/<passkey>/announce?x=y") to route params and query values. */
  private contextFor(urlData: string): RequestContext {
    if (urlData === '') return createContext(NO_PARAMS, {});
    const q = urlData.indexOf('?');
    const path = q < 0 ? urlData : urlData.slice(0, q);
    const query: Record<string, string> = {};
    if (q >= 0) decodeQuery(urlData.slice(q + 1), (k, v) => { query[k] = v; });
    return createContext(this.matchRoute(path) ?? NO_PARAMS, query);
  }

  private announce(u: UdpAnnounceRequest, ip: string, rinfo: RemoteInfo, start: bigint): void {
    let address = ip;
    if (this.cfg.allow_ip_spoofing && u.ip !== 0 && !isIPv6(ip)) {
      address = `${u.ip >>> 24}.${(u.ip >>> 16) & 0xff}.${(u.ip >>> 8) & 0xff}.${u.ip & 0xff}`;
    }
    const req: AnnounceRequest = {
      infoHash: u.infoHash,
      peer: makePeer(u.peerId, address, validatePort(u.port)),
      event: u.event,
      uploaded: u.uploaded,
      downloaded: u.downloaded,
      left: u.left,
      numWant: sanitizeNumWant(u.numWant < 0 ? undefined : u.numWant, { defaultNumWant: this.cfg.default_numwant, maxNumWant: this.cfg.max_numwant }),
      compact: true,
      noPeerId: true,
      transport: 'udp',
    };
    const ctx = this.contextFor(u.urlData);
    const result = this.deps.chain.announce(ctx, req);
    const finish = (resp: AnnounceResponse): void => {
      const peers = req.peer.family === 4 ? resp.ipv4Peers : resp.ipv6Peers;
      this.send(encodeAnnounceResponse(u.transactionId, resp.interval, resp.incomplete, resp.complete, peers), rinfo);
      this.deps.metrics.observe('udp', 'announce', 'ok', start);
      this.runPostHooks(() => this.deps.chain.afterAnnounce(ctx, req, resp));
    };
    // A synchronous throw reaches onMessage's catch; a later one becomes an error packet.
    answer(result, finish, (err) => this.fail(err, u.transactionId, 'announce', rinfo, start));
  }

  private scrape(u: UdpScrapeRequest, ip: string, rinfo: RemoteInfo, start: bigint): void {
    if (u.infoHashes.length > this.cfg.max_scrape_infohashes) {
      throw new ClientError('TOO_MANY_INFO_HASHES', `too many info_hashes: at most ${this.cfg.max_scrape_infohashes} per scrape`);
    }
    const req: ScrapeRequest = { infoHashes: u.infoHashes, family: isIPv6(ip) ? 6 : 4, transport: 'udp' };
    const ctx = createContext(NO_PARAMS, {});
    const result = this.deps.chain.scrape(ctx, req);
    const finish = (resp: ScrapeResponse): void => {
      this.send(encodeScrapeResponse(u.transactionId, resp.files), rinfo);
      this.deps.metrics.observe('udp', 'scrape', 'ok', start);
      this.runPostHooks(() => this.deps.chain.afterScrape(ctx, req, resp));
    };
    answer(result, finish, (err) => this.fail(err, u.transactionId, 'scrape', rinfo, start));
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

export function createUdpFrontend(cfg: UdpConfig, announceRoutes: string[], deps: FrontendDeps): Frontend {
  return new UdpFrontend(cfg, announceRoutes, deps);
}
