/**
 * File mappings shared with the page cache, for the journal's no-syscall append path, from the
 * native addon (addon.ts). Optional: if the addon was not built, `loadMmap()` returns undefined
 * and the journal writes with write(2).
 */
import { coded, loadNative, nativeUnavailableReason } from './addon.js';

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

/** Why loadMmap() found no addon ('' when it did, or before it was called). */
export function mmapUnavailableReason(): string {
  return nativeUnavailableReason();
}

/** The mapping functions, or undefined if the addon is not built (or not loadable on this platform). */
export function loadMmap(): MmapAddon | undefined {
  if (cached === undefined) {
    const raw = loadNative();
    cached = raw === undefined ? null : {
      map: (fd, length) => coded(() => raw.map(fd, length)),
      unmap: raw.unmap,
      populate: raw.populate,
      allocate: (fd, offset, length) => coded(() => raw.allocate(fd, offset, length)),
    };
  }
  return cached ?? undefined;
}
