/**
 * A UDP socket read and written in batches (native/udp_batch.c): recvmmsg takes up to 64
 * datagrams per wake-up, one call into JavaScript handles them all, and sendmmsg sends their
 * replies in one system call. node:dgram does one callback per datagram and one send request per
 * reply, and at saturation that glue was about a third of what a UDP announce cost (BENCHMARKS.md:
 * 15.7 µs of CPU before, 9.7 after). At low rates a wake-up per datagram costs the same either way.
 *
 * The frontend sees the same shape as with dgram: a handler called with each datagram and the
 * address it came from, and `send(reply, to)`. A reply sent while its datagram's batch is open is
 * staged and leaves with the batch; one sent later (an asynchronous hook) leaves at once (sendto).
 * The batch stays open through the microtasks its handling queued: once every datagram is handled
 * the turn ends (turn-end.ts: the privtrak hook commits the batch's announces to its journal), and
 * the replies that waited for that commit are staged too. Each datagram is handed over in a Buffer
 * of its own (a copy out of the batch's buffer, from Node's pool), as dgram does: the decoder's
 * info_hash and peer_id are views of it, and a request may outlive its batch (an asynchronous hook,
 * a journal commit).
 * IPv4 clients of a dual-stack socket are reported as plain IPv4 ("1.2.3.4", not ::ffff:1.2.3.4).
 */
import type { RemoteInfo } from 'node:dgram';
import { coded, loadNative, type NativeAddon } from '../../native/addon.js';
import { endTurn } from '../../turn-end.js';
import type { UdpSocketCounts } from '../../metrics/metrics.js';

/** Datagrams per batch (BATCH in udp_batch.c). */
const BATCH = 64;
const META_WORDS = 8;
const OUT_WORDS = 3;
/** outMeta's control words after the replies' (udp_batch.c): how many are staged; 1 while the batch is open. */
const COUNT = BATCH * OUT_WORDS;
const OPEN = COUNT + 1;
/** Staging room for one batch's replies; a reply that does not fit is sent on its own. */
const OUT_BYTES = 256 * 1024;

/** The native functions this file uses (optional members of NativeAddon: absent off Linux). */
type UdpNative = Required<Pick<NativeAddon, 'udpOpen' | 'udpStart' | 'udpSendTo' | 'udpAddress' | 'udpPeerText' | 'udpStats' | 'udpCoalesce' | 'udpClose'>>;

/** The addon's batch functions, or undefined (not built, PRIVTRAK_NO_NATIVE=1, not Linux). */
export function batchUdpNative(): UdpNative | undefined {
  const n = loadNative();
  return n?.udpOpen === undefined ? undefined : (n as UdpNative);
}

/** Where a datagram came from: dgram's RemoteInfo, plus which batch and slot (to stage its reply). */
class BatchRemote implements RemoteInfo {
  constructor(
    readonly address: string,
    readonly family: 'IPv4' | 'IPv6',
    readonly port: number,
    readonly size: number,
    readonly batch: number,
    readonly index: number,
  ) {}
}

export interface BatchSocketOptions {
  /** SO_RCVBUF and SO_SNDBUF, bytes (the kernel caps them). */
  readonly bufferSize: number;
  /** Largest datagram handled whole; a larger one reaches the handler cut to this many bytes plus one. */
  readonly maxDatagram: number;
  /**
   * µs to wait after a batch that emptied the socket before reading again, while datagrams keep
   * coming (a read within this long of the socket being ready), so the next batch finds several
   * waiting. 0: read as soon as the socket is readable. An idle socket never waits.
   */
  readonly coalesceUs?: number;
}

export type DatagramHandler = (msg: Buffer, from: RemoteInfo) => void;

export class BatchSocket {
  private readonly handle: unknown;
  private readonly slot: number;
  private readonly in: Buffer;
  private readonly meta: Int32Array;
  private readonly metaBytes: Uint8Array;
  private readonly out: Buffer;
  private readonly outMeta: Int32Array;
  private closed = false;
  /** Serial of the last batch (0: none yet); its replies are staged while outMeta[OPEN] is 1. */
  private batch = 0;
  private outPos = 0;

  /** Binds `host:port` (an IP literal; '::' takes IPv4 clients too) and starts reading. Throws like dgram's bind. */
  constructor(private readonly native: UdpNative, host: string, port: number, opts: BatchSocketOptions, private readonly onDatagram: DatagramHandler) {
    this.slot = opts.maxDatagram + 1;
    this.in = Buffer.allocUnsafeSlow(BATCH * this.slot);
    this.meta = new Int32Array(BATCH * META_WORDS);
    this.metaBytes = new Uint8Array(this.meta.buffer);
    this.out = Buffer.allocUnsafeSlow(OUT_BYTES);
    this.outMeta = new Int32Array(OPEN + 1);
    try {
      // Errors as node:dgram's bind throws them: with `code` (EADDRINUSE, EAFNOSUPPORT, ...) and the address.
      this.handle = coded(() => native.udpOpen(host, port, opts.bufferSize, this.in, this.slot, this.meta, this.out, this.outMeta, (n: number) => this.onBatch(n)));
    } catch (err) {
      (err as Error).message += ` ${host}:${port}`;
      throw err;
    }
    if (opts.coalesceUs) native.udpCoalesce(this.handle, opts.coalesceUs);
    native.udpStart(this.handle);
  }

  /**
   * Handles `n` datagrams, then ends the turn. Replies staged until udp_batch.c closes the batch
   * (after the microtasks this queued) leave with it.
   */
  private onBatch(n: number): void {
    this.batch = (this.batch + 1) % 0x4000_0000 || 1;
    this.outMeta[COUNT] = 0;
    this.outMeta[OPEN] = 1;
    this.outPos = 0;
    for (let i = 0; i < n; i++) {
      const m = i * META_WORDS;
      const len = this.meta[m]!;
      const start = i * this.slot;
      const size = len < 0 ? this.slot : len;
      const msg = Buffer.allocUnsafe(size);
      this.in.copy(msg, 0, start, start + size);
      const v4 = this.meta[m + 1] === 4;
      const b = (m + 3) * 4;
      const bytes = this.metaBytes;
      const address = v4 ? `${bytes[b]}.${bytes[b + 1]}.${bytes[b + 2]}.${bytes[b + 3]}` : this.native.udpPeerText(this.handle, i);
      this.onDatagram(msg, new BatchRemote(address, v4 ? 'IPv4' : 'IPv6', this.meta[m + 2]!, msg.length, this.batch, i));
      if (this.closed) return;
    }
    endTurn();
  }

  /** Sends `reply` to where `to` came from: with its batch if that batch is still open, else now. */
  send(reply: Buffer, to: RemoteInfo): void {
    if (this.closed) return;
    const len = reply.length;
    const meta = this.outMeta;
    const staged = meta[COUNT]!;
    if (meta[OPEN] === 1 && to instanceof BatchRemote && to.batch === this.batch && staged < BATCH && this.outPos + len <= OUT_BYTES) {
      reply.copy(this.out, this.outPos);
      const o = staged * OUT_WORDS;
      meta[o] = this.outPos;
      meta[o + 1] = len;
      meta[o + 2] = to.index;
      meta[COUNT] = staged + 1;
      this.outPos += len;
      return;
    }
    this.native.udpSendTo(this.handle, reply, to.address, to.port);
  }

  address(): { address: string; port: number } {
    const [address, port] = this.native.udpAddress(this.handle);
    return { address, port };
  }

  /**
   * Replies dropped because the send buffer was full, replies the kernel refused, replies sent
   * with their batch (sendmmsg) or alone (sendto), reads that returned datagrams (recvmmsg), and
   * reads followed by a coalescing pause.
   */
  stats(): UdpSocketCounts {
    const [dropped, refused, batched, alone, reads, pauses] = this.native.udpStats(this.handle);
    return { dropped, refused, batched, alone, reads, pauses };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.udpClose(this.handle);
  }
}
