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
import { Worker } from 'node:worker_threads';
import type { AdoptedBaseline, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import { SinkSchemaError, SinkThreadError, SinkTimeoutError, SinkUnreachableError } from '../../sinks/sink-errors.js';
import type { Unit3dSiteConfig } from '../config.js';
import type { ApplyInput, ApplyOutcome, Unit3dWriterBackend } from './writer-core.js';
import type { ReapResult } from './reaper.js';
import type { Unregistered } from './writer-sql.js';
import { sideBytes } from './writer-side.js';
import { RECORD_SIZE } from '../../accounting/delta-record.js';

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

/** `room`: an apply's memory, moved back for the next apply to reuse. Errors keep what the front needs to revive them. */
export type WriterReply = { id: number; room?: ArrayBuffer } & (
  | { ok: true; value: unknown }
  | { ok: false; message: string; code?: string; errno?: number; sqlState?: string }
);

/** Distributes Omit over the union, so each op keeps its own fields. */
type CallBody = WriterCall extends infer C ? (C extends WriterCall ? Omit<C, 'id'> : never) : never;
type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

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
  private worker: Worker | undefined;
  private opened = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Memory for the next apply, moved back and forth (fresh megabytes per batch cost page faults on this thread). */
  private room: ArrayBuffer | undefined;

  constructor(private readonly data: WriterWorkerData) {}

  /** The worker's thread ID while one runs (for tests and per-thread measurements). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  /** The running worker's event-loop utilisation (its busy time), or undefined: for the benchmark's per-thread CPU. */
  eventLoopUtilization(): { active: number; idle: number } | undefined {
    return this.worker?.performance.eventLoopUtilization();
  }

  /** Stops the worker as a crash would (calls in flight reject; the next call starts a new one). For tests. */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  async open(): Promise<void> {
    await this.call({ op: 'open' });
    this.opened = true;
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
    let room = this.room;
    this.room = undefined;
    if (room === undefined || room.byteLength < bytes) room = new ArrayBuffer(bytes);
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
  async close(): Promise<void> {
    const worker = this.worker;
    this.opened = false;
    if (worker === undefined) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      this.worker = undefined;
      await worker.terminate();
    }
  }

  private call(body: CallBody, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref(); // a call in flight keeps the process alive; an idle worker does not
      worker.postMessage({ ...body, id }, transfer);
    });
  }

  private start(): Worker {
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: this.data });
    worker.unref();
    worker.on('message', (reply: WriterReply) => {
      if (reply.room !== undefined && reply.room.byteLength > (this.room?.byteLength ?? 0)) this.room = reply.room;
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.ok) p.resolve(reply.value);
      else p.reject(revive(reply));
    });
    const died = (cause: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const err = new SinkThreadError(`unit3d writer: its thread stopped (${cause instanceof Error ? cause.message : String(cause)}); the batch will be retried`,
        { cause });
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(`exit code ${code}`));
    this.worker = worker;
    // A new worker opens the site's tables again (schema check, packet size) before the call that needed it.
    if (this.opened) worker.postMessage({ op: 'open', id: 0 } satisfies WriterCall);
    return worker;
  }
}
