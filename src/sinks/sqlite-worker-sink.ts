/**
 * The SQLite sink on a worker thread (the default for `sink: {name: sqlite}`).
 *
 * better-sqlite3 is synchronous: in-process, every flush (fold a batch, upsert a row per user
 * and torrent, commit) stops the event loop — about 10 ms per second at 8,000 announces/s and
 * 1,000 torrents on the benchmark machine, and more on a large site: every announce waits
 * behind it. Here the same SqliteSink runs in a worker thread, so the tracker's thread only
 * copies the batch's journal records into a message. The contract (sink.ts) is unchanged:
 * apply resolves once the worker's transaction committed, and rejects with nothing stored.
 * If the worker dies, every call in flight is rejected (the flusher retries its batch, which
 * the sink's seq check makes harmless) and the next call starts a new worker.
 */
import type { BatchFence, DeltaBatch, StatDelta } from '../accounting/delta.js';
import { FencedError } from './sink-errors.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from './sink.js';
import { SqliteSink, type SqliteSinkOptions } from './sqlite-sink.js';
import { LegacyDataError, type Rekey } from '../accounting/legacy-data.js';
import { WorkerCalls } from './worker-calls.js';
import type { WriterPriority } from './writer-priority.js';

/** A call to the worker (sqlite-worker.ts). */
export type WorkerCall = { id: number } & (
  | { op: 'open' | 'migrate' | 'close' }
  | { op: 'load'; instance: string }
  | { op: 'apply'; instance: string; batchId: number; records?: Uint8Array; deltas?: StatDelta[]; fence?: BatchFence }
  | { op: 'totals'; byTorrent: boolean; user?: Uint8Array }
);

/** `room`: an apply's records buffer, moved back for the next apply to reuse; `tid`: the first message's (worker-calls.ts). */
export type WorkerReply = { id: number; room?: ArrayBuffer; tid?: number } & ({ ok: true; value: unknown } | {
  ok: false; message: string; code: string | undefined;
  /** FencedError's details, so the tracker's thread rebuilds the same typed error. */
  fence?: { name: string; token: number; recorded?: number };
});

/** Buffers cross the thread boundary as plain Uint8Arrays (structured clone): a Buffer view of one, no copy. */
export const bufferOf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * The worker's young generation, in MB. It was 4 while every batch arrived in a new ArrayBuffer,
 * freed only when the worker's collector ran: with V8's default sizing they piled up (+36 MB RSS at
 * 100k peers). Batches now come in the same memory, moved back and forth (worker-calls.ts: the
 * room), and at 4 MB the fold's row objects of each batch (two per row, 10,000 rows) outgrew the
 * young generation: scavenges promoted them and old-generation collections swept them, 1.2 µs of
 * the writer's 6 µs per delta (bench/sqlite-floor.mjs: 6.0-6.2 µs at 4 MB, 4.9-5.0 at 16 MB, as
 * without a worker; RSS per peer at 1M peers with the private chain unchanged, 164-174 bytes).
 */
export const SQLITE_WORKER_YOUNG_GENERATION_MB = 16;

/** Distributes Omit over the union, so each op keeps its own fields. */
type CallBody = WorkerCall extends infer C ? (C extends WorkerCall ? Omit<C, 'id'> : never) : never;

export class SqliteWorkerSink implements DeltaSink {
  readonly name = 'sqlite';
  private readonly thread: WorkerCalls<CallBody, WorkerReply>;

  constructor(private readonly opts: SqliteSinkOptions) {
    this.thread = new WorkerCalls({
      script: new URL('./sqlite-worker.js', import.meta.url),
      worker: { workerData: opts, resourceLimits: { maxYoungGenerationSizeMb: SQLITE_WORKER_YOUNG_GENERATION_MB } },
      revive: (reply) => reply.code === 'LEGACY_DATA' ? new LegacyDataError(`the SQLite sink ${opts.path}`)
        : reply.code === 'SINK_FENCED' ? new FencedError(reply.message, reply.fence)
        : Object.assign(new Error(reply.message), reply.code === undefined ? {} : { code: reply.code }),
      died: (cause) => new Error(`sqlite worker exited (${cause instanceof Error ? cause.message : String(cause)})`, { cause }),
    });
  }

  /** The worker's CPU priority (writer-priority.ts). */
  get writerPriority(): WriterPriority {
    return this.thread.priority;
  }

  async open(): Promise<void> {
    await this.call({ op: 'open' });
    this.thread.opened = true;
  }

  async migrate(rekey?: Rekey): Promise<void> {
    if (rekey === undefined) {
      await this.call({ op: 'migrate' });
      return;
    }
    // A rekey is a function of this thread (the registry, the secret): `privtrak migrate` runs it
    // here, on a SqliteSink of its own, with the tracker stopped.
    const sink = new SqliteSink(this.opts);
    try {
      await sink.migrate(rekey);
    } finally {
      await sink.close();
    }
  }

  async load(instance: string): Promise<SinkState> {
    return (await this.call({ op: 'load', instance })) as SinkState;
  }

  async apply(batch: DeltaBatch): Promise<void> {
    if (batch.records !== undefined) {
      // A copy of the batch's bytes, moved (not copied again) to the worker, which moves it back.
      const bytes = batch.records.length;
      const room = this.thread.takeRoom(bytes);
      const records = new Uint8Array(room, 0, bytes);
      records.set(batch.records);
      await this.call({ op: 'apply', instance: batch.instance, batchId: batch.id, records, fence: batch.fence }, [room]);
    } else {
      await this.call({ op: 'apply', instance: batch.instance, batchId: batch.id, deltas: [...batch.deltas], fence: batch.fence });
    }
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    const rows = (await this.call({ op: 'totals', byTorrent: query.byTorrent, user: query.user })) as TotalsRow[];
    return rows.map((r) => ({ ...r, user: bufferOf(r.user), infoHash: r.infoHash === undefined ? undefined : bufferOf(r.infoHash) }));
  }

  close(): Promise<void> {
    return this.thread.close({ op: 'close' });
  }

  /** Stops the worker as a crash would (calls in flight reject; the next call starts a new one). For tests. */
  kill(): Promise<void> {
    return this.thread.kill();
  }

  private call(body: CallBody, transfer: ArrayBuffer[] = []): Promise<unknown> {
    return this.thread.call(body, transfer);
  }
}
