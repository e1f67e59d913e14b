/**
 * The UNIT3D writer's worker thread (writer-thread.ts): one Unit3dWriterCore, served call by call.
 * Its session runs the calls one at a time, as in place; answers go back in the calls' order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Unit3dWriterCore } from './writer-core.js';
import { bufferOf, type WriterCall, type WriterReply, type WriterWorkerData } from './writer-thread.js';
import type { Unregistered } from './writer-sql.js';
import { RECORD_SIZE } from '../../accounting/delta-record.js';
import { threadIdMessage } from '../../sinks/worker-calls.js';

const data = workerData as WriterWorkerData;
const core = new Unit3dWriterCore(data.config, data.peerLifetimeMs);
const port = parentPort!;
// Who this thread is, so the tracker's thread can set its CPU priority (sinks/writer-priority.ts).
port.postMessage(threadIdMessage());

/** The pairs as the core writes them: their info hashes crossed as Uint8Arrays. */
const unregisteredOf = (rows: readonly Unregistered[]): Unregistered[] => rows.map((r) => ({ ...r, infoHash: bufferOf(r.infoHash) }));

async function run(call: WriterCall): Promise<unknown> {
  switch (call.op) {
    case 'open': return core.open();
    case 'migrate': return core.migrate();
    case 'load': return core.load(call.instance);
    case 'apply': {
      const records = Buffer.from(call.room, 0, call.recordBytes);
      const flags = new Uint32Array(call.room, call.recordBytes, call.recordBytes / RECORD_SIZE);
      return core.apply({ instance: call.instance, records, side: { flags, agents: call.agents }, unregistered: unregisteredOf(call.unregistered) });
    }
    case 'reap': return core.reap(call.nowMs, unregisteredOf(call.unregistered));
    case 'totals': return core.totals({ byTorrent: call.byTorrent, user: call.user === undefined ? undefined : bufferOf(call.user) });
    case 'adoptable': return core.adoptable();
    case 'close': return core.close();
  }
}

port.on('message', (call: WriterCall) => {
  // An apply's memory goes back to the announce thread once applied, for its next batch.
  const room = call.op === 'apply' ? call.room : undefined;
  const moved = room === undefined ? [] : [room];
  run(call).then(
    (value) => port.postMessage({ id: call.id, room, ok: true, value } satisfies WriterReply, moved),
    (err: unknown) => {
      const e = err as { message?: unknown; code?: unknown; errno?: unknown; sqlState?: unknown };
      port.postMessage({
        id: call.id, room, ok: false, message: String(e?.message ?? err),
        ...(typeof e?.code === 'string' ? { code: e.code } : {}),
        ...(typeof e?.errno === 'number' ? { errno: e.errno } : {}),
        ...(typeof e?.sqlState === 'string' ? { sqlState: e.sqlState } : {}),
      } satisfies WriterReply, moved);
    },
  );
});
