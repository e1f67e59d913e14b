/**
 * The file operations whose order decides what survives a power loss — fsync of a file, of a
 * directory, close, rename — behind one seam, so tests can observe that they happen and in which
 * order (test/support/recording-fs.ts). Everything else goes to node:fs directly.
 *
 * The rules privtrak follows with fsync on: a file is fsynced before it is closed or renamed into
 * place, and its directory is fsynced after a rename or a new file (the entry itself must reach
 * the disk too). Sync variants serve the journal and checkpoints; async ones the registry files
 * the admin API writes, which can be megabytes and must not stop the event loop.
 */
import { closeSync, fsyncSync, openSync, promises as fsp, renameSync, writeSync, type promises } from 'node:fs';

export interface DurableFs {
  fsyncSync(fd: number, path: string): void;
  closeSync(fd: number, path: string): void;
  renameSync(from: string, to: string): void;
  fsyncDirSync(dir: string): void;
  fsync(file: promises.FileHandle, path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
}

export const nodeFs: DurableFs = {
  fsyncSync: (fd) => fsyncSync(fd),
  closeSync: (fd) => closeSync(fd),
  renameSync: (from, to) => renameSync(from, to),
  fsyncDirSync(dir) {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
  fsync: (file) => file.sync(),
  rename: (from, to) => fsp.rename(from, to),
  async fsyncDir(dir) {
    const h = await fsp.open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  },
};

/**
 * Replaces `path` with `data`: written to `tmp` beside it, fsynced (when `fsync`) and closed, then
 * renamed over it, so a crash leaves the old file or the new one. The caller fsyncs the directory,
 * once for all the files it replaced.
 */
export function replaceFileSync(path: string, data: Buffer, fsync: boolean, fs: DurableFs = nodeFs, tmp = `${path}.rekey.tmp`): void {
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    if (fsync) fs.fsyncSync(fd, tmp);
  } finally {
    fs.closeSync(fd, tmp);
  }
  fs.renameSync(tmp, path);
}
