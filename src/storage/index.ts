/** Builds the configured peer store and runs its garbage collection and size reporting. */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Clock } from '../clock.js';
import type { TrackerMetrics } from '../metrics/metrics.js';
import type { PeerStore } from './peer-store.js';
import { MemoryPeerStore } from './memory/memory-store.js';
import { RedisPeerStore } from './redis/redis-store.js';

/** Builds the store, unconnected: `PeerStore.start` (when there is one) connects it. */
export function createPeerStore(cfg: Config['storage'], clock: Clock, logger?: Logger): PeerStore {
  switch (cfg.name) {
    case 'memory':
      return new MemoryPeerStore(clock);
    case 'redis':
      return new RedisPeerStore({ config: cfg.config, clock, logger });
  }
}

/**
 * Periodic GC and gauges. Errors are logged; a failing GC run never takes the process down.
 * Every instance runs one; with a shared store, collectGarbage itself makes sure that only one
 * instance at a time walks the keyspace (the Redis store's GC lease).
 */
export class StoreMaintenance {
  private readonly timers: NodeJS.Timeout[] = [];
  private gcRunning = false;

  constructor(
    private readonly store: PeerStore,
    private readonly cfg: Config['storage']['config'],
    private readonly metrics: TrackerMetrics,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timers.push(setInterval(() => void this.collect(), this.cfg.gc_interval).unref());
    this.timers.push(setInterval(() => void this.report(), this.cfg.prometheus_reporting_interval).unref());
  }

  async collect(now = Date.now()): Promise<number> {
    if (this.gcRunning) return 0;
    this.gcRunning = true;
    const end = this.metrics.gcDuration.startTimer();
    try {
      const removed = await this.store.collectGarbage(now - this.cfg.peer_lifetime);
      this.metrics.gcRemoved.inc(removed);
      return removed;
    } catch (err) {
      this.logger.error({ err }, 'swarm garbage collection failed');
      return 0;
    } finally {
      end();
      this.gcRunning = false;
    }
  }

  async report(): Promise<void> {
    try {
      const s = await this.store.stats();
      this.metrics.swarms.set(s.swarms);
      this.metrics.seeders.set(s.seeders);
      this.metrics.leechers.set(s.leechers);
    } catch (err) {
      this.logger.warn({ err }, 'storage stats failed');
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
