/**
 * Calls to a sink's worker thread, answered by ID: what the SQLite sink's worker
 * (sqlite-worker-sink.ts) and the UNIT3D writer's worker (sites/unit3d/writer-thread.ts) share.
 *
 * - A worker is started by the first call that finds none running; a replacement is sent
 *   `{op: 'open'}` first when the sink had been opened, so it opens its database again before
 *   serving the call that needed it.
 * - An idle worker is unref'd: a call in flight keeps the process alive, an idle worker does not.
 * - If the worker dies, every call in flight rejects with the owner's error (its batch is retried,
 *   which the sinks' applied mark makes harmless) and the next call starts a new worker.
 * - `room`: memory for the next batch, moved to the worker with it and moved back in the reply
 *   (fresh megabytes per batch would cost a page fault per 4 KiB on the tracker's thread).
 * - `priority`: the worker runs at low CPU priority; a call that runs past its budget gets normal
 *   priority, kept until the worker has had nothing to do for a while (writer-priority.ts).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { WriterPriority, currentThreadId } from './writer-priority.js';

/**
 * What every reply carries; `ok: false` replies carry what the owner needs to rebuild the error.
 * A worker's first message (id 0) carries its kernel thread ID, `tid` (writer-priority.ts).
 */
export type ThreadReply = { id: number; room?: ArrayBuffer; tid?: number } & ({ ok: true; value: unknown } | { ok: false });

/**
 * The first message a worker script posts (before serving any call): its kernel thread ID, so the
 * owner can set the thread's CPU priority. Call it on the worker's own thread.
 */
export function threadIdMessage(): ThreadReply {
  return { id: 0, ok: true, value: null, tid: currentThreadId() };
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

export interface WorkerCallsOptions<R extends ThreadReply> {
  readonly script: URL;
  readonly worker: WorkerOptions;
  /** The error a failed call rejects with (typed as the in-place sink would have thrown it). */
  revive(reply: Extract<R, { ok: false }>): Error;
  /** The error calls in flight reject with when the worker dies. */
  died(cause: unknown): Error;
  /** The worker's CPU priority (default: a WriterPriority of its own). */
  readonly priority?: WriterPriority;
}

export class WorkerCalls<C extends { op: string }, R extends ThreadReply> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private room: ArrayBuffer | undefined;
  /** Whether the owner opened the sink: a replacement worker then opens it again first. */
  opened = false;
  /** The worker's CPU priority: low while it keeps up (writer-priority.ts). */
  readonly priority: WriterPriority;

  constructor(private readonly opts: WorkerCallsOptions<R>) {
    this.priority = opts.priority ?? new WriterPriority();
  }

  /** The worker's thread ID while one runs (for tests and per-thread measurements). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  /** The running worker's event-loop utilisation, or undefined (for per-thread CPU in benchmarks). */
  eventLoopUtilization(): { active: number; idle: number } | undefined {
    return this.worker?.performance.eventLoopUtilization();
  }

  /** Memory of at least `bytes` for a batch: the room moved back by the last reply, or a new one. */
  takeRoom(bytes: number): ArrayBuffer {
    const room = this.room;
    this.room = undefined;
    return room !== undefined && room.byteLength >= bytes ? room : new ArrayBuffer(bytes);
  }

  call(body: C, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...body, id }, transfer);
      this.priority.writing();
    });
  }

  /** Sends `closeCall` (after the worker's queued work), then ends the worker. */
  async close(closeCall: C): Promise<void> {
    const worker = this.worker;
    this.opened = false;
    if (worker === undefined) return;
    try {
      await this.call(closeCall);
    } finally {
      this.worker = undefined;
      await worker.terminate();
    }
  }

  /** Stops the worker as a crash would (calls in flight reject; the next call starts a new one). For tests. */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(this.opts.script, this.opts.worker);
    worker.unref();
    worker.on('message', (reply: R) => {
      if (reply.id === 0 && 'tid' in reply && this.worker === worker) this.priority.attach(reply.tid);
      if (reply.room !== undefined && reply.room.byteLength > (this.room?.byteLength ?? 0)) this.room = reply.room;
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) {
        worker.unref();
        this.priority.idle();
      }
      if (reply.ok) p.resolve(reply.value);
      else p.reject(this.opts.revive(reply as Extract<R, { ok: false }>));
    });
    const died = (cause: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.priority.detach();
      const err = this.opts.died(cause);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`exit code ${code}`)));
    this.worker = worker;
    if (this.opened) worker.postMessage({ op: 'open', id: 0 });
    return worker;
  }
}
