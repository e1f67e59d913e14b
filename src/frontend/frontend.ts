/** What the tracker needs from a frontend, and what a frontend is given. */
import type { Logger } from 'pino';
import type { HookChain } from '../middleware/chain.js';
import type { TrackerMetrics } from '../metrics/metrics.js';
import type { Clock } from '../clock.js';

export interface Frontend {
  readonly name: 'http' | 'udp';
  /** Binds and starts accepting; resolves once listening. */
  listen(): Promise<void>;
  /** The bound port (useful with port 0 in tests). */
  port(): number;
  /** Stops accepting and closes; in-flight requests may finish. */
  close(): Promise<void>;
}

export interface FrontendDeps {
  readonly chain: HookChain;
  readonly metrics: TrackerMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
}
