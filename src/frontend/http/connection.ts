/**
 * The seam between the HTTP frontend and the TCP layer under it. The frontend only needs to
 * accept connections, read bytes as latin1 text, write whole responses, half-close and
 * close; two listeners implement that: `raw-tcp.ts` on libuv handles directly (the fast
 * path) and `net-tcp.ts` on node:net (the portable one). BENCHMARKS.md has the numbers that
 * made the raw path the default.
 */

/** One accepted TCP connection, with the frontend's per-connection parse state on it. */
export interface Connection {
  /** Request bytes received and not yet parsed, as latin1 (one char per byte). */
  rx: string;
  /** A request is being answered asynchronously; later pipelined ones wait. */
  inFlight: boolean;
  /** Epoch ms after which the sweep closes the connection. */
  deadline: number;
  /** The last reply said "Connection: close": anything the client sends after is ignored. */
  done: boolean;
  /** True once closed (by either side): writes are dropped. */
  readonly closed: boolean;
  /** Reply bytes handed to write() that the kernel has not taken yet. */
  readonly queuedBytes: number;
  /** The address this connection was counted under for max_connections_per_ip (set by the frontend). */
  countedIp: string | undefined;
  /** Its index among the frontend's open connections (open-connections.ts), -1 when not listed. */
  slot: number;
  /** The peer's address as the OS reports it ("1.2.3.4", "::1", "::ffff:1.2.3.4"), or undefined if unknown. */
  remoteAddress(): string | undefined;
  /** Turns Nagle off: keep-alive replies must not wait for the previous reply's ACK. */
  noDelay(): void;
  /** Queues bytes for the client. */
  write(data: Buffer): void;
  /**
   * The last bytes of the connection: writes them, then FIN (as shutdown()); in one segment where
   * the kernel takes them whole, so the client is woken once and acknowledges once.
   */
  writeLast(data: Buffer): void;
  /** Stops taking bytes from the kernel (its receive buffer fills, and TCP makes the client wait). Idempotent. */
  pauseReading(): void;
  /** Takes bytes again after pauseReading(). Idempotent. */
  resumeReading(): void;
  /** Sends FIN after pending writes; the connection closes when the client closes its side (or the sweep cuts it). */
  shutdown(): void;
  /** Closes at once. */
  close(): void;
}

export interface ConnectionHandlers {
  /** A new connection (already counted against max_connections). */
  onConnection(conn: Connection): void;
  /** Bytes arrived, as latin1 text. */
  onData(conn: Connection, text: string): void;
  /**
   * The connection closed (client EOF, error, or close()). Called once. On client EOF the
   * connection closes at once, unless a request is in flight: then after its reply is written.
   */
  onClose(conn: Connection): void;
  /** Every queued reply byte went to the kernel (queuedBytes fell to 0). */
  onDrained(conn: Connection): void;
  /** A connection was refused at accept because max_connections were open. */
  onRefused(): void;
}

export interface TcpListener {
  /**
   * Binds and listens; host '::' or undefined = every interface (IPv6 dual-stack, IPv4 only where
   * the host has no IPv6: net-addr.ts listenDualStack). Resolves with the host bound.
   */
  listen(host: string | undefined, port: number, backlog: number): Promise<string>;
  /** The bound port. */
  port(): number;
  /** Stops accepting; open connections are left to the caller. */
  close(): Promise<void>;
}

export interface ListenerOptions {
  readonly maxConnections: number;
}

export type ListenerFactory = (handlers: ConnectionHandlers, opts: ListenerOptions) => TcpListener;
