/**
 * A TCP listener on node:net: the portable fallback for `raw-tcp.ts` (public APIs only),
 * chosen with `http.transport: net` or when the libuv bindings are unavailable.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Connection, ConnectionHandlers, ListenerOptions, TcpListener } from './connection.js';
import { listenDualStack } from '../../net-addr.js';

class NetConnection implements Connection {
  rx = '';
  inFlight = false;
  deadline = 0;
  done = false;
  closed = false;
  countedIp: string | undefined = undefined;
  slot = -1;
  /** The client half-closed while its request was in flight: end once the reply is written. */
  endAfterWrite = false;
  private reading = true;

  constructor(readonly socket: Socket) {}

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  noDelay(): void {
    // Set for every socket at accept (createServer({ noDelay: true })).
  }

  write(data: Buffer): void {
    if (this.closed) return;
    if (this.endAfterWrite) this.socket.end(data);
    else this.socket.write(data);
  }

  writeLast(data: Buffer): void {
    if (!this.closed) this.socket.end(data);
  }

  pauseReading(): void {
    if (!this.reading || this.closed) return;
    this.reading = false;
    this.socket.pause();
  }

  resumeReading(): void {
    if (this.reading || this.closed) return;
    this.reading = true;
    this.socket.resume();
  }

  shutdown(): void {
    if (!this.closed) this.socket.end();
  }

  close(): void {
    if (!this.closed) this.socket.destroy();
  }
}

export class NetTcpListener implements TcpListener {
  private readonly server: Server;
  private count = 0;

  constructor(private readonly handlers: ConnectionHandlers, private readonly opts: ListenerOptions) {
    // allowHalfOpen: a client may half-close right after its request; its reply must still be written.
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  listen(host: string | undefined, port: number, backlog: number): Promise<string> {
    return listenDualStack(host, (h) => new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host: h, backlog }, () => {
        this.server.off('error', reject);
        resolve();
      });
    }));
  }

  port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    // Counted here rather than with server.maxConnections, which drops connections without telling anyone.
    if (this.count >= this.opts.maxConnections) {
      socket.destroy();
      this.handlers.onRefused();
      return;
    }
    this.count++;
    const conn = new NetConnection(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      conn.closed = true;
      this.count--;
      this.handlers.onClose(conn);
    });
    socket.on('data', (chunk: Buffer) => this.handlers.onData(conn, chunk.toString('latin1')));
    socket.on('drain', () => this.handlers.onDrained(conn));
    socket.on('end', () => {
      if (conn.inFlight) conn.endAfterWrite = true;
      else socket.end();
    });
    this.handlers.onConnection(conn);
  }
}

export function createNetTcpListener(handlers: ConnectionHandlers, opts: ListenerOptions): TcpListener {
  return new NetTcpListener(handlers, opts);
}
