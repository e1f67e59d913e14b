/**
 * The native mmap addon (native/privtrak_mmap.c, built by `npm install` through binding.gyp):
 * file mappings shared with the page cache, for the journal's no-syscall append path. Optional: if
 * it was not built, `loadMmap()` returns undefined and the journal writes with write(2).
 * PRIVTRAK_NO_NATIVE=1 makes it act as if it were not built (to run or test that fallback).
 */
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

export interface MmapAddon {
  /** The first `length` bytes of the file, read/write, MAP_SHARED: stores land in the page cache. */
  map(fd: number, length: number): ArrayBuffer;
  /** Detaches the ArrayBuffer (its views become empty, so no access can fault) and unmaps it. */
  unmap(mapping: ArrayBuffer): void;
  /** Reserves disk blocks for [offset, offset + length), growing the file; throws on ENOSPC etc. */
  allocate(fd: number, offset: number, length: number): void;
  /** Maps [offset, offset + length) of a mapping writable now (page-aligned offset); false where the kernel cannot. */
  populate(mapping: ArrayBuffer, offset: number, length: number): boolean;
}

let cached: MmapAddon | null | undefined;

/** The addon, or undefined if it is not built (or not loadable on this platform). */
export function loadMmap(): MmapAddon | undefined {
  if (cached === undefined && process.env['PRIVTRAK_NO_NATIVE'] === '1') cached = null;
  if (cached === undefined) {
    try {
      // dist/src/native/mmap.js -> <package root>/build/Release/privtrak_mmap.node
      const raw = createRequire(import.meta.url)('../../../build/Release/privtrak_mmap.node') as MmapAddon;
      cached = {
        map: raw.map,
        unmap: raw.unmap,
        populate: raw.populate,
        allocate: (fd, offset, length) => {
          try {
            raw.allocate(fd, offset, length);
          } catch (err) {
            throw withCode(err);
          }
        },
      };
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}

/** The addon reports `errno` as a negative number; give the error Node's `code` (ENOSPC, ...) too. */
function withCode(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.errno === 'number') e.code = getSystemErrorName(e.errno);
  return err;
}
