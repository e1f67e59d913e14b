/** Builds a bare tracker pipeline (chain + memory store) around one frontend for tests. */
import { pino } from 'pino';
import { HookChain } from '../../src/middleware/chain.js';
import { createResponseHook } from '../../src/middleware/response/response-hook.js';
import { createSwarmHook } from '../../src/middleware/swarm/swarm-hook.js';
import { MemoryPeerStore } from '../../src/storage/memory/memory-store.js';
import { ManualClock } from '../../src/clock.js';
import { TrackerMetrics } from '../../src/metrics/metrics.js';
import type { Hook } from '../../src/middleware/hook.js';
import type { FrontendDeps } from '../../src/frontend/frontend.js';

export interface Pipeline {
  deps: FrontendDeps;
  store: MemoryPeerStore;
  clock: ManualClock;
  metrics: TrackerMetrics;
}

export function pipeline(preHooks: Hook[] = [], postHooks: Hook[] = []): Pipeline {
  const clock = new ManualClock(Date.now());
  const store = new MemoryPeerStore(clock);
  const metrics = new TrackerMetrics({ defaultMetrics: false });
  const chain = new HookChain([...preHooks, createResponseHook(store)], [createSwarmHook(store), ...postHooks], {
    announceInterval: 1800,
    minAnnounceInterval: 900,
  });
  return { deps: { chain, metrics, logger: pino({ level: 'silent' }), clock }, store, clock, metrics };
}
