/** A DurableFs that does the real thing and records each call, so tests can check what was fsynced and in which order. */
import { basename } from 'node:path';
import { nodeFs, type DurableFs } from '../../src/durable-fs.js';

export class RecordingFs implements DurableFs {
  /** Calls in order, e.g. "fsync journal-0000000000000001.bin", "rename baselines.ckpt.tmp baselines.ckpt", "fsyncdir journal". */
  readonly calls: string[] = [];

  fsyncSync(fd: number, path: string): void {
    this.calls.push(`fsync ${basename(path)}`);
    nodeFs.fsyncSync(fd, path);
  }

  closeSync(fd: number, path: string): void {
    this.calls.push(`close ${basename(path)}`);
    nodeFs.closeSync(fd, path);
  }

  renameSync(from: string, to: string): void {
    this.calls.push(`rename ${basename(from)} ${basename(to)}`);
    nodeFs.renameSync(from, to);
  }

  fsyncDirSync(dir: string): void {
    this.calls.push(`fsyncdir ${basename(dir)}`);
    nodeFs.fsyncDirSync(dir);
  }

  async fsync(file: Parameters<DurableFs['fsync']>[0], path: string): Promise<void> {
    this.calls.push(`fsync ${basename(path)}`);
    await nodeFs.fsync(file, path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.calls.push(`rename ${basename(from)} ${basename(to)}`);
    await nodeFs.rename(from, to);
  }

  async fsyncDir(dir: string): Promise<void> {
    this.calls.push(`fsyncdir ${basename(dir)}`);
    await nodeFs.fsyncDir(dir);
  }

  /** The calls naming `what` (a file name or part of one), in order. */
  about(what: string): string[] {
    return this.calls.filter((c) => c.includes(what));
  }
}
