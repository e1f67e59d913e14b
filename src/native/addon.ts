/**
 * privtrak's own native addon (native/privtrak_native.c, built by `npm install` through
 * binding.gyp): the few system calls Node does not expose — file mappings for the journal
 * (mmap.ts) and, for the HTTP frontend, a last write with FIN in the same segment (sendLast).
 * Optional: where it did not build, `loadNative()` returns undefined and each user falls back
 * (the journal to write(2), the frontend to a write then a separate shutdown).
 * PRIVTRAK_NO_NATIVE=1 makes it act as if it were not built (to run or test those fallbacks).
 */
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

/** The addon's functions as N-API exports them (errors carry a negative `errno`). */
export interface NativeAddon {
  map(fd: number, length: number): ArrayBuffer;
  unmap(mapping: ArrayBuffer): void;
  allocate(fd: number, offset: number, length: number): void;
  populate(mapping: ArrayBuffer, offset: number, length: number): boolean;
  /**
   * Sends `data` on socket `fd` and half-closes it, FIN in the same segment; only shuts down if
   * every byte was taken. Returns the bytes taken (0: it would block) or -errno.
   */
  sendLast(fd: number, data: Buffer): number;
  /*
   * The UDP frontend's batched socket (native/udp_batch.c, Linux only; src/frontend/udp/batch-socket.ts
   * documents the buffers' layout). Errors carry a negative `errno`.
   */
  udpOpen?(host: string, port: number, bufferSize: number, input: Buffer, slot: number, meta: Int32Array,
    out: Buffer, outMeta: Int32Array, onBatch: (received: number) => void): unknown;
  udpStart?(socket: unknown): void;
  /** Returns the bytes sent, 0 if the send buffer was full (the reply is dropped and counted), or -errno. */
  udpSendTo?(socket: unknown, data: Buffer, host: string, port: number): number;
  udpAddress?(socket: unknown): [string, number];
  udpPeerText?(socket: unknown, index: number): string;
  /**
   * [replies dropped (send buffer full), refused by the kernel, sent with their batch, sent alone,
   * reads that returned datagrams, reads followed by a coalescing pause].
   */
  udpStats?(socket: unknown): [number, number, number, number, number, number];
  /** The pause after a drained batch while datagrams keep coming, µs (0: none; at most 1,000,000). */
  udpCoalesce?(socket: unknown, microseconds: number): void;
  udpClose?(socket: unknown): void;
}

let cached: NativeAddon | null | undefined;
let unavailable = '';

/** Why loadNative() found no addon ('' when it did, or before it was called). */
export function nativeUnavailableReason(): string {
  return unavailable;
}

/** The addon reports `errno` as a negative number; its errors get Node's `code` (ENOSPC, EADDRINUSE, ...) too. */
export function coded<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.errno === 'number') e.code = getSystemErrorName(e.errno);
    throw err;
  }
}

/** The addon, or undefined if it is not built (or not loadable on this platform). */
export function loadNative(): NativeAddon | undefined {
  if (cached === undefined) {
    if (process.env['PRIVTRAK_NO_NATIVE'] === '1') {
      cached = null;
      unavailable = 'PRIVTRAK_NO_NATIVE=1';
    } else {
      try {
        // dist/src/native/addon.js -> <package root>/build/Release/privtrak_native.node
        cached = createRequire(import.meta.url)('../../../build/Release/privtrak_native.node') as NativeAddon;
      } catch (err) {
        cached = null;
        unavailable = (err as Error).message.split('\n')[0]!;
      }
    }
  }
  return cached ?? undefined;
}
