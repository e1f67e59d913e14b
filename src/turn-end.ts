/**
 * The end of the current event-loop turn, for work that waits for the other requests of its turn:
 * the privtrak hook writes the announces of one turn to its journal together and holds their
 * replies until then (middleware/privtrak/committer.ts).
 *
 * By default a turn ends at setImmediate (after the loop's I/O callbacks). A frontend that handles
 * a batch of requests in one call ends the turn itself once the batch is handled (`endTurn`): the
 * batched UDP socket (frontend/udp/batch-socket.ts) does, so a commit group is one batch, written
 * before the batch's replies are sent, and the replies leave together in one sendmmsg instead of
 * one sendto each after the next setImmediate. With the private chain over UDP the replies sent
 * one by one were a fifth of the event loop's CPU (BENCHMARKS.md).
 *
 * Process-wide, as the event loop is: ending the turn early for one tracker only makes another
 * tracker's commit group smaller. Work queued while the queue runs runs in the same call.
 */
let queued: Array<() => void> = [];
let immediate = false;

const atImmediate = (): void => {
  immediate = false;
  endTurn();
};

/** Runs `fn` once at the end of this turn: when a frontend ends it, or at setImmediate. */
export function atTurnEnd(fn: () => void): void {
  queued.push(fn);
  if (!immediate) {
    immediate = true;
    setImmediate(atImmediate);
  }
}

/**
 * Ends the turn now: runs what atTurnEnd queued, in order. If one throws, the others still run,
 * and the first error is thrown after them (as a throwing setImmediate callback would reach
 * 'uncaughtException').
 */
export function endTurn(): void {
  let failed = false;
  let first: unknown;
  while (queued.length > 0) {
    const run = queued;
    queued = [];
    for (const fn of run) {
      try {
        fn();
      } catch (err) {
        if (!failed) first = err;
        failed = true;
      }
    }
  }
  if (failed) throw first;
}
