/**
 * Errors of the database sinks, with stable codes (docs/errors.md). The operator commands print
 * SINK_SCHEMA and SINK_UNREACHABLE as one line that says what to do; the flusher logs any of them
 * and retries the batch (nothing of a failed batch is stored).
 */

/** The sink's tables are missing, or at a version this privtrak does not speak: run `privtrak migrate` (or upgrade). */
export class SinkSchemaError extends Error {
  readonly code = 'SINK_SCHEMA';
}

/**
 * A sink's worker thread stopped (crashed, or was ended) while calls were in flight: they reject
 * with this, nothing of theirs is committed that a retry would apply twice (the applied mark), and
 * the next call starts a new thread.
 */
export class SinkThreadError extends Error {
  readonly code = 'SINK_THREAD';
}

/** The database could not be reached or refused the connection. */
export class SinkUnreachableError extends Error {
  readonly code = 'SINK_UNREACHABLE';
}

/**
 * A statement or transaction took longer than the sink's `timeout`: the connection was destroyed
 * (a hung or black-holed server must fail the batch, not hang the flusher) and the batch is
 * retried on a new one. The server rolls the transaction back when it sees the connection gone;
 * if the commit had already happened, the retry finds the mark moved and applies nothing twice.
 */
export class SinkTimeoutError extends Error {
  readonly code = 'SINK_TIMEOUT';
}

/**
 * The batch carries a fence (DeltaBatch.fence) whose token is below the one the sink recorded for
 * that name: a newer lease holder has written since, so this writer lost its lease. Nothing of
 * the batch was stored. Also thrown by a sink that cannot check fences at all (the log sink).
 */
export class FencedError extends Error {
  readonly code = 'SINK_FENCED';
  constructor(message: string, readonly fence?: { readonly name: string; readonly token: number; readonly recorded?: number }) {
    super(message);
  }
}

/** The standard refusal of a stale fence. */
export function staleFence(sink: string, fence: { name: string; token: number }, recorded: number): FencedError {
  return new FencedError(`${sink} sink: fence "${fence.name}" token ${fence.token} is below the recorded ${recorded}: a newer lease holder has written, nothing of this batch was stored`,
    { ...fence, recorded });
}

/** The URL without its password, for error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}
