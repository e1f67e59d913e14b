/**
 * privtrak's native addon for tests (native/privtrak_native.c, built by npm install). In CI
 * (CI=true) a missing addon fails the test; elsewhere the test is skipped with a one-line reason.
 */
import { loadMmap, type MmapAddon } from '../../src/native/mmap.js';
import { loadNative, type NativeAddon } from '../../src/native/addon.js';

function orSkip<T>(t: { skip(msg: string): void }, found: T | undefined): T | undefined {
  if (found !== undefined) return found;
  if (process.env['CI'] === 'true') throw new Error('the native addon is required in CI but not built (npm install runs node-gyp)');
  t.skip('the native addon is not built');
  return undefined;
}

/** The mapping functions, or skips the test (outside CI) when the addon is not built. */
export function mmapOrSkip(t: { skip(msg: string): void }): MmapAddon | undefined {
  return orSkip(t, loadMmap());
}

/** The whole addon, or skips the test (outside CI) when it is not built. */
export function nativeOrSkip(t: { skip(msg: string): void }): NativeAddon | undefined {
  return orSkip(t, loadNative());
}
