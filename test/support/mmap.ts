/**
 * The native mmap addon for tests (native/privtrak_native.c, built by npm install). In CI (CI=true) a
 * missing addon fails the test; elsewhere the test is skipped with a one-line reason.
 */
import { loadMmap, type MmapAddon } from '../../src/native/mmap.js';

/** Returns the addon, or skips the test (outside CI) when it is not built. */
export function mmapOrSkip(t: { skip(msg: string): void }): MmapAddon | undefined {
  const mm = loadMmap();
  if (mm !== undefined) return mm;
  if (process.env['CI'] === 'true') throw new Error('the native mmap addon is required in CI but not built (npm install runs node-gyp)');
  t.skip('the native mmap addon is not built');
  return undefined;
}
