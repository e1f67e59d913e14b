/**
 * A TCP listener on libuv handles directly (`process.binding('tcp_wrap')`), without
 * net.Socket. A tracker connection is one request line in and one buffer out; what node:net
 * builds around it — a Socket, a Duplex with two stream states, event emitters, a read
 * ArrayBuffer per read — cost more than the announce itself under "Connection: close" load
 * (BENCHMARKS.md: the profile and the side-by-side numbers). Here a connection is one small
 * object; reads land in one shared buffer (we copy them out as latin1 at once); a write that
 * the kernel takes whole (the usual case for a reply of a few hundred bytes) allocates
 * nothing, because its write request object is reused.
 *
 * These bindings are Node internals, stable across Node 12–24 but not a public API, so
 * `loadRawTcp()` checks their shape and returns undefined if they are missing or changed;
 * the frontend then falls back to node:net (`http.transport: auto`).
 */
import cluster from 'node:cluster';
import { getSystemErrorName } from 'node:util';
import type { Connection, ConnectionHandlers, ListenerOptions, TcpListener } from './connection.js';
import { listenDualStack } from '../../net-addr.js';
import { loadNative } from '../../native/addon.js';
import { listenClusterShared } from './cluster-listen.js';

interface UvReq {
  oncomplete: (this: UvReq, status: number) => void;
  handle: UvTcp | null;
  buffer: Buffer | null;
  conn: RawConnection | null;
}

interface UvTcp {
  onread: (this: UvTcp, ab: ArrayBuffer | undefined) => void;
  onconnection: (status: number, client: UvTcp | undefined) => void;
  owner: RawConnection | null;
  bind(host: string, port: number): number;
  bind6(host: string, port: number, flags: number): number;
  listen(backlog: number): number;
  getsockname(out: { address?: string; port?: number }): number;
  getpeername(out: { address?: string; port?: number }): number;
  setNoDelay(on: boolean): number;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Buffer): void;
  writeBuffer(req: UvReq, data: Buffer): number;
  readonly fd: number;
  shutdown(req: UvReq): number;
  close(cb?: () => void): void;
}

interface RawBindings {
  readonly TCP: new (type: number) => UvTcp;
  readonly serverType: number;
  readonly WriteWrap: new () => UvReq;
  readonly ShutdownWrap: new () => UvReq;
  /** Shared with C++: [kReadBytesOrError] after a read, [kLastWriteWasAsync] after a write. */
  readonly state: Int32Array;
  readonly kReadBytesOrError: number;
  readonly kLastWriteWasAsync: number;
}

let cached: RawBindings | null | undefined;
let unavailable = '';

/** Why loadRawTcp() found no usable bindings ('' when it did, or before it was called). */
export function rawTcpUnavailableReason(): string {
  return unavailable;
}

/** The libuv bindings, or undefined if this Node does not expose them as expected (rawTcpUnavailableReason says why). */
export function loadRawTcp(): RawBindings | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  const missing = (why: string) => {
    unavailable = why;
    return undefined;
  };
  try {
    const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
    if (typeof binding !== 'function') return missing('process.binding is not available on this Node');
    const tcp = binding('tcp_wrap');
    const stream = binding('stream_wrap');
    const TCP = tcp['TCP'] as RawBindings['TCP'] | undefined;
    const constants = tcp['constants'] as { SERVER?: number } | undefined;
    const proto = TCP?.prototype as Partial<Record<keyof UvTcp, unknown>> | undefined;
    const methods: Array<keyof UvTcp> = ['bind', 'bind6', 'listen', 'getsockname', 'getpeername', 'setNoDelay', 'readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'shutdown', 'close'];
    if (TCP === undefined || proto === undefined || typeof constants?.SERVER !== 'number') return missing("tcp_wrap has no TCP class or SERVER constant");
    const absent = methods.filter((m) => typeof proto[m] !== 'function');
    if (absent.length > 0) return missing(`tcp_wrap's TCP lacks ${absent.join(', ')}`);
    const state = stream['streamBaseState'];
    const kRead = stream['kReadBytesOrError'];
    const kAsync = stream['kLastWriteWasAsync'];
    if (!(state instanceof Int32Array) || typeof kRead !== 'number' || typeof kAsync !== 'number') return missing('stream_wrap has no streamBaseState');
    if (typeof stream['WriteWrap'] !== 'function' || typeof stream['ShutdownWrap'] !== 'function') return missing('stream_wrap has no WriteWrap or ShutdownWrap');
    cached = {
      TCP, serverType: constants.SERVER, state, kReadBytesOrError: kRead, kLastWriteWasAsync: kAsync,
      WriteWrap: stream['WriteWrap'] as RawBindings['WriteWrap'],
      ShutdownWrap: stream['ShutdownWrap'] as RawBindings['ShutdownWrap'],
    };
    return cached;
  } catch (err) {
    return missing(`process.binding failed: ${(err as Error).message}`);
  }
}

function uvError(op: string, code: number): Error {
  let name: string;
  try {
    name = getSystemErrorName(code);
  } catch {
    name = `error ${code}`;
  }
  const err = new Error(`${op} ${name}`) as Error & { code: string };
  err.code = name;
  return err;
}

class RawConnection implements Connection {
  rx = '';
  inFlight = false;
  deadline = 0;
  done = false;
  closed = false;
  countedIp: string | undefined = undefined;
  slot = -1;
  /** Writes the kernel did not take whole yet; close waits for none (shutdown does). */
  pendingWrites = 0;
  queuedBytes = 0;
  private reading = true;
  /** The client half-closed while its request was in flight: close once the reply is written. */
  closeAfterWrite = false;
  private address: string | undefined = undefined;
  private noDelaySet = false;

  constructor(readonly handle: UvTcp, private readonly listener: RawTcpListener) {}

  remoteAddress(): string | undefined {
    if (this.address === undefined && !this.closed) this.address = this.listener.peerAddress(this.handle);
    return this.address;
  }

  /** Keep-alive replies must not wait on Nagle for the previous reply's ACK. */
  noDelay(): void {
    if (this.noDelaySet || this.closed) return;
    this.noDelaySet = true;
    this.handle.setNoDelay(true);
  }

  write(data: Buffer): void {
    if (!this.closed) this.listener.write(this, data);
  }

  writeLast(data: Buffer): void {
    if (!this.closed) this.listener.writeLast(this, data);
  }

  pauseReading(): void {
    if (!this.reading || this.closed) return;
    this.reading = false;
    this.handle.readStop();
  }

  resumeReading(): void {
    if (this.reading || this.closed) return;
    this.reading = true;
    if (this.handle.readStart() !== 0) this.close();
  }

  /** A write the kernel took in parts has completed (status < 0: failed). */
  written(bytes: number, status: number): void {
    this.pendingWrites--;
    this.queuedBytes -= bytes;
    if (status < 0 || (this.closeAfterWrite && this.pendingWrites === 0)) this.close();
    else if (this.queuedBytes === 0) this.listener.drained(this);
  }

  shutdown(): void {
    if (!this.closed) this.listener.shutdown(this);
  }

  close(): void {
    this.listener.closeConnection(this);
  }
}

export class RawTcpListener implements TcpListener {
  private server: UvTcp | undefined;
  /** How to give the listening socket back: close it, or (cluster worker) tell the primary. */
  private release: (() => Promise<void>) | undefined;
  private count = 0;
  /** Reads of every connection land here; onData copies them out before the next read. */
  private readonly readBuffer = Buffer.allocUnsafe(65536);
  /** The write request for the next write: replaced only when one stays in flight. */
  private spareWrite: UvReq;
  private readonly peer: { address?: string; port?: number } = {};
  private readonly onRead: (this: UvTcp, ab: ArrayBuffer | undefined) => void;
  /** The addon's one-segment last write, when it is built (otherwise a write, then a separate shutdown). */
  private readonly sendLast = loadNative()?.sendLast;

  constructor(private readonly uv: RawBindings, private readonly handlers: ConnectionHandlers, private readonly opts: ListenerOptions) {
    this.spareWrite = this.newWriteReq();
    const self = this;
    this.onRead = function onRead(this: UvTcp): void {
      const conn = this.owner;
      if (conn === null) return;
      const n = self.uv.state[self.uv.kReadBytesOrError]!;
      if (n > 0) {
        self.handlers.onData(conn, self.readBuffer.toString('latin1', 0, n));
        return;
      }
      if (n < 0) self.ended(conn);
    };
  }

  listen(host: string | undefined, port: number, backlog: number): Promise<string> {
    // Every interface ('::' or none): IPv6 dual-stack, or IPv4 only where the host has no IPv6.
    // In a `serve --workers N` worker the socket is bound once, by the primary (cluster-listen.ts).
    if (cluster.isWorker) return listenDualStack(host, (h) => this.listenShared(h, port, backlog));
    return listenDualStack(host, (h) => this.listenOn(new this.uv.TCP(this.uv.serverType), h, port, backlog));
  }

  private async listenShared(host: string, port: number, backlog: number): Promise<void> {
    const shared = await listenClusterShared(this.uv.TCP, host, port, backlog);
    // net.Server has called listen(); from here on, connections come to us instead of to net.
    shared.handle.onconnection = (status, client) => this.accept(status, client);
    this.server = shared.handle;
    this.release = shared.close;
  }

  private listenOn(server: UvTcp, host: string, port: number, backlog: number): Promise<void> {
    // bind6 flags 0: not IPV6_V6ONLY, so '::' takes IPv4 clients too (as ::ffff:a.b.c.d).
    const err = host.includes(':') ? server.bind6(host, port, 0) : server.bind(host, port);
    if (err !== 0) {
      server.close();
      return Promise.reject(uvError(`listen ${host}:${port}`, err));
    }
    return this.finishListen(server, backlog);
  }

  private finishListen(server: UvTcp, backlog: number): Promise<void> {
    server.onconnection = (status, client) => this.accept(status, client);
    const err = server.listen(backlog);
    if (err !== 0) {
      server.close();
      return Promise.reject(uvError('listen', err));
    }
    this.server = server;
    this.release = () => new Promise((resolve) => server.close(resolve));
    return Promise.resolve();
  }

  port(): number {
    const out: { port?: number } = {};
    if (this.server === undefined || this.server.getsockname(out) !== 0) return 0;
    return out.port ?? 0;
  }

  close(): Promise<void> {
    const release = this.release;
    this.server = undefined;
    this.release = undefined;
    return release === undefined ? Promise.resolve() : release();
  }

  private accept(status: number, client: UvTcp | undefined): void {
    // status < 0: accept failed (e.g. EMFILE); libuv keeps listening.
    if (status !== 0 || client === undefined) return;
    if (this.count >= this.opts.maxConnections) {
      client.close();
      this.handlers.onRefused();
      return;
    }
    this.count++;
    const conn = new RawConnection(client, this);
    client.owner = conn;
    client.onread = this.onRead;
    client.useUserBuffer(this.readBuffer);
    const err = client.readStart();
    this.handlers.onConnection(conn);
    if (err !== 0) this.closeConnection(conn);
  }

  /**
   * EOF or a read error. A client may half-close right after its request (HTTP/1.0 style):
   * if that request is still being answered, the reply is written first.
   */
  ended(conn: RawConnection): void {
    if (conn.inFlight) conn.closeAfterWrite = true;
    else this.closeConnection(conn);
  }

  peerAddress(handle: UvTcp): string | undefined {
    const out = this.peer;
    out.address = undefined;
    return handle.getpeername(out) === 0 ? out.address : undefined;
  }

  write(conn: RawConnection, data: Buffer): void {
    const req = this.spareWrite;
    const err = conn.handle.writeBuffer(req, data);
    if (err !== 0) {
      this.closeConnection(conn);
      return;
    }
    if (this.uv.state[this.uv.kLastWriteWasAsync] !== 0) {
      // The kernel did not take it all: libuv now owns this request until oncomplete.
      req.handle = conn.handle;
      req.buffer = data;
      req.conn = conn;
      conn.pendingWrites++;
      conn.queuedBytes += data.length;
      this.spareWrite = this.newWriteReq();
    } else if (conn.closeAfterWrite && conn.pendingWrites === 0) {
      this.closeConnection(conn);
    }
  }

  /** The reply, then FIN; in one segment when the addon is there and the kernel takes it all at once. */
  writeLast(conn: RawConnection, data: Buffer): void {
    const send = this.sendLast;
    if (send !== undefined && conn.pendingWrites === 0) {
      const n = send(conn.handle.fd, data);
      if (n === data.length) {
        if (conn.closeAfterWrite) this.closeConnection(conn);
        return;
      }
      if (n < 0) {
        this.closeConnection(conn);
        return;
      }
      if (n > 0) data = data.subarray(n);
    }
    this.write(conn, data);
    this.shutdown(conn);
  }

  shutdown(conn: RawConnection): void {
    const req = new this.uv.ShutdownWrap();
    req.handle = conn.handle;
    req.buffer = null;
    req.conn = conn;
    req.oncomplete = onShutdownDone;
    if (conn.handle.shutdown(req) !== 0) this.closeConnection(conn);
  }

  drained(conn: RawConnection): void {
    this.handlers.onDrained(conn);
  }

  closeConnection(conn: RawConnection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.count--;
    const handle = conn.handle;
    // (onread stays: the binding only accepts a function there; onRead ignores owner-less handles.)
    handle.close();
    handle.owner = null;
    this.handlers.onClose(conn);
  }

  private newWriteReq(): UvReq {
    const req = new this.uv.WriteWrap();
    req.handle = null;
    req.buffer = null;
    req.conn = null;
    req.oncomplete = onWriteDone;
    return req;
  }
}

function onWriteDone(this: UvReq, status: number): void {
  const conn = this.conn;
  const bytes = this.buffer?.length ?? 0;
  this.buffer = null;
  this.conn = null;
  this.handle = null;
  conn?.written(bytes, status);
}

function onShutdownDone(this: UvReq, status: number): void {
  const conn = this.conn;
  this.conn = null;
  this.handle = null;
  // After a shutdown we wait for the client's EOF (see Connection.shutdown); a failed one means it is gone.
  if (conn !== null && status < 0) conn.close();
}

/** A raw listener, or undefined when the libuv bindings are unavailable. */
export function createRawTcpListener(handlers: ConnectionHandlers, opts: ListenerOptions): TcpListener | undefined {
  const uv = loadRawTcp();
  return uv === undefined ? undefined : new RawTcpListener(uv, handlers, opts);
}
