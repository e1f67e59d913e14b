/**
 * The SQLite sink's worker thread (sqlite-worker-sink.ts): one SqliteSink, served call by call.
 * better-sqlite3 is synchronous; here its transactions block this thread, never the tracker's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DeltaBatch } from '../accounting/delta.js';
import { RecordBatch } from '../accounting/record-batch.js';
import { SqliteSink, type SqliteSinkOptions } from './sqlite-sink.js';
import { FencedError } from './sink-errors.js';
import { bufferOf, type WorkerCall, type WorkerReply } from './sqlite-worker-sink.js';
import { threadIdMessage } from './worker-calls.js';

const sink = new SqliteSink(workerData as SqliteSinkOptions);
const port = parentPort!;
// Who this thread is, so the tracker's thread can set its CPU priority (writer-priority.ts).
port.postMessage(threadIdMessage());

function batchOf(call: Extract<WorkerCall, { op: 'apply' }>): DeltaBatch {
  // Journal records, as the tracker sends them: the same batch the in-process sink gets from the flusher.
  if (call.records !== undefined) return new RecordBatch(call.instance, bufferOf(call.records), call.fence);
  const deltas = call.deltas!.map((d) => ({ ...d, user: bufferOf(d.user), infoHash: bufferOf(d.infoHash), peerId: bufferOf(d.peerId) }));
  return { id: call.batchId, instance: call.instance, deltas, fence: call.fence };
}

async function run(call: WorkerCall): Promise<unknown> {
  switch (call.op) {
    case 'open': return sink.open();
    case 'migrate': return sink.migrate();
    case 'load': return sink.load(call.instance);
    case 'apply': return sink.apply(batchOf(call));
    case 'totals': return sink.totals({ byTorrent: call.byTorrent, user: call.user === undefined ? undefined : bufferOf(call.user) });
    case 'close': return sink.close();
  }
}

port.on('message', (call: WorkerCall) => {
  // An apply's records go back to the tracker's thread once applied, for its next batch.
  const room = call.op === 'apply' ? call.records?.buffer as ArrayBuffer | undefined : undefined;
  const moved = room === undefined ? [] : [room];
  run(call).then(
    (value) => port.postMessage({ id: call.id, room, ok: true, value } satisfies WorkerReply, moved),
    (err: unknown) => {
      const e = err as { message?: unknown; code?: unknown };
      port.postMessage({
        id: call.id, room, ok: false, message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined,
        fence: err instanceof FencedError ? err.fence : undefined,
      } satisfies WorkerReply, moved);
    },
  );
});
