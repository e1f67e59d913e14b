/**
 * One process per journal directory: two trackers (or a tracker and `privtrak recover`) writing
 * the same journal would corrupt each other's sequence numbers. The lock is a file holding the
 * owner's pid, created exclusively; a lock whose process is gone (kill -9) is taken over.
 */
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

const LOCK_FILE = 'privtrak.lock';

export class DirLockedError extends Error {
  readonly code = 'JOURNAL_DIR_LOCKED';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock on `dir` (which must exist); returns the release function. Throws DirLockedError if another live process holds it. */
export function lockDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (Number(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        // removed meanwhile: try again
      }
      // Our own pid: a hook of this process that was never stopped (tests simulate crashes so).
      if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
        throw new DirLockedError(`${dir} is in use by process ${owner} (another privtrak, or privtrak recover): one process per journal_dir`);
      }
      try {
        unlinkSync(path);
      } catch {
        // someone else took it over first: the next attempt sees theirs
      }
    }
  }
  throw new DirLockedError(`${dir}: could not take ${LOCK_FILE}`);
}
