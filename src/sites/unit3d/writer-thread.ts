/**
 * The UNIT3D writer's database half (writer-core.ts) on a worker thread of its own, as the SQLite
 * sink runs (sinks/sqlite-worker-sink.ts). At the tracker's peak a batch's decoding, folding and
 * SQL text cost tens of µs per delta: on the announce thread that was more than the announces
 * left it (BENCHMARKS.md, "Site sinks"). Here the announce thread only copies the batch's records
 * and their side flags (writer-side.ts) into memory moved to the worker and back.
 *
 * The contract (sinks/sink.ts) is the worker's: apply resolves once its transaction committed and
 * rejects with nothing committed. If the worker dies, every call in flight rejects with
 * SinkThreadError (a transaction it had open dies with its connection: the server rolls it back;
 * one whose COMMIT had reached the server is found by the retry's mark) and the next call starts
 * a new worker, which opens the site's tables again first.
 */
import type { AdoptedBaseline, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import { SinkSchemaError, SinkThreadError, SinkTimeoutError, SinkUnreachableError } from '../../sinks/sink-errors.js';
import type { Unit3dSiteConfig } from '../config.js';
import type { ApplyInput, ApplyOutcome, Unit3dWriterBackend } from './writer-core.js';
import type { ReapResult } from './reaper.js';
import type { Unregistered } from './writer-sql.js';
import { sideBytes } from './writer-side.js';
import { RECORD_SIZE } from '../../accounting/delta-record.js';
import { WorkerCalls } from '../../sinks/worker-calls.js';
import type { WriterPriority } from '../../sinks/writer-priority.js';

/** What the worker gets at start. */
export interface WriterWorkerData {
  readonly config: Unit3dSiteConfig;
  readonly peerLifetimeMs: number;
}

/**
 * A call to the worker (writer-worker.ts). An apply's records and side flags travel in one moved
 * ArrayBuffer (`room`): the records' bytes, then one u32 per record.
 */
export type WriterCall = { id: number } & (
  | { op: 'open' | 'migrate' | 'close' | 'adoptable' }
  | { op: 'load'; instance: string }
  | { op: 'apply'; instance: string; room: ArrayBuffer; recordBytes: number; agents: readonly string[]; unregistered: readonly Unregistered[] }
  | { op: 'reap'; nowMs: number; unregistered: readonly Unregistered[] }
  | { op: 'totals'; byTorrent: boolean; user?: Uint8Array }
);

/**
 * `room`: an apply's memory, moved back for the next apply to reuse. Errors keep what the front needs to revive them.
 * `tid`: the worker's first message carries its thread ID (sinks/worker-calls.ts).
 */
export type WriterReply = { id: number; room?: ArrayBuffer; tid?: number } & (
  | { ok: true; value: unknown }
  | { ok: false; message: string; code?: string; errno?: number; sqlState?: string }
);

/** Distributes Omit over the union, so each op keeps its own fields. */
type CallBody = WriterCall extends infer C ? (C extends WriterCall ? Omit<C, 'id'> : never) : never;

/** Buffers cross the thread boundary as plain Uint8Arrays (structured clone): a Buffer view of one, no copy. */
export const bufferOf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** The worker's error as the caller would have had it in place: the sink errors by their code, a server error with its code. */
function revive(reply: Extract<WriterReply, { ok: false }>): Error {
  switch (reply.code) {
    case 'SINK_SCHEMA': return new SinkSchemaError(reply.message);
    case 'SINK_UNREACHABLE': return new SinkUnreachableError(reply.message);
    case 'SINK_TIMEOUT': return new SinkTimeoutError(reply.message);
  }
  const err = new Error(reply.message);
  return Object.assign(err, reply.code === undefined ? {} : { code: reply.code },
    reply.errno === undefined ? {} : { errno: reply.errno }, reply.sqlState === undefined ? {} : { sqlState: reply.sqlState });
}

export class Unit3dWriterThread implements Unit3dWriterBackend {
  private readonly thread: WorkerCalls<CallBody, WriterReply>;

  constructor(data: WriterWorkerData) {
    this.thread = new WorkerCalls({
      script: new URL('./writer-worker.js', import.meta.url),
      worker: { workerData: data },
      revive,
      died: (cause) => new SinkThreadError(`unit3d writer: its thread stopped (${cause instanceof Error ? cause.message : String(cause)}); the batch will be retried`,
        { cause }),
    });
  }

  /** The worker's CPU priority (sinks/writer-priority.ts). */
  get writerPriority(): WriterPriority {
    return this.thread.priority;
  }

  /** The worker's thread ID while one runs (for tests and per-thread measurements). */
  get threadId(): number | undefined {
    return this.thread.threadId;
  }

  /** The running worker's event-loop utilisation (its busy time), or undefined: for the benchmark's per-thread CPU. */
  eventLoopUtilization(): { active: number; idle: number } | undefined {
    return this.thread.eventLoopUtilization();
  }

  /** Stops the worker as a crash would (calls in flight reject; the next call starts a new one). For tests. */
  kill(): Promise<void> {
    return this.thread.kill();
  }

  async open(): Promise<void> {
    await this.call({ op: 'open' });
    this.thread.opened = true;
  }

  async migrate(): Promise<void> {
    await this.call({ op: 'migrate' });
  }

  async load(instance: string): Promise<SinkState> {
    return (await this.call({ op: 'load', instance })) as SinkState;
  }

  /** Copies the records and their side flags into the moved memory; `describe` fills the flags there and returns the agents. */
  async applyRecords(instance: string, records: Buffer, unregistered: readonly Unregistered[],
    describe: (flags: Uint32Array) => readonly string[]): Promise<ApplyOutcome> {
    const recordBytes = records.length;
    const bytes = recordBytes + sideBytes(recordBytes);
    const room = this.thread.takeRoom(bytes);
    new Uint8Array(room, 0, recordBytes).set(records);
    const agents = describe(new Uint32Array(room, recordBytes, recordBytes / RECORD_SIZE));
    return (await this.call({ op: 'apply', instance, room, recordBytes, agents, unregistered }, [room])) as ApplyOutcome;
  }

  /** The backend interface's apply (the front uses applyRecords: the side flags are written straight into the moved memory). */
  async apply(input: ApplyInput): Promise<ApplyOutcome> {
    return this.applyRecords(input.instance, input.records, input.unregistered, (flags) => {
      flags.set(input.side.flags);
      return input.side.agents;
    });
  }

  async reap(nowMs: number, unregistered: readonly Unregistered[]): Promise<ReapResult> {
    return (await this.call({ op: 'reap', nowMs, unregistered })) as ReapResult;
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    const rows = (await this.call({ op: 'totals', byTorrent: query.byTorrent, user: query.user })) as TotalsRow[];
    return rows.map((r) => ({ ...r, user: bufferOf(r.user), infoHash: r.infoHash === undefined ? undefined : bufferOf(r.infoHash) }));
  }

  async adoptable(): Promise<AdoptedBaseline[]> {
    const rows = (await this.call({ op: 'adoptable' })) as AdoptedBaseline[];
    return rows.map((r) => ({ ...r, user: bufferOf(r.user), infoHash: bufferOf(r.infoHash), peerId: bufferOf(r.peerId) }));
  }

  /** Closes the worker's connection (after its queued work), then ends the worker. */
  close(): Promise<void> {
    return this.thread.close({ op: 'close' });
  }

  private call(body: CallBody, transfer: ArrayBuffer[] = []): Promise<unknown> {
    return this.thread.call(body, transfer);
  }
}
