/** What the tracker needs from a frontend, and what a frontend is given. */
import type { Logger } from 'pino';
import type { HookChain } from '../middleware/chain.js';
import type { TrackerMetrics } from '../metrics/metrics.js';
import type { Clock } from '../clock.js';
import type { ControlHandler } from './control.js';
import type { Readiness } from './readiness.js';

export interface Frontend {
  readonly name: 'http' | 'udp';
  /** Binds and starts accepting; resolves once listening. */
  listen(): Promise<void>;
  /** The bound port (useful with port 0 in tests). */
  port(): number;
  /** The host bound once listening: '::' (dual-stack), '0.0.0.0' where the host has no IPv6, or the configured one. */
  readonly boundHost: string;
  /** Stops accepting and closes; in-flight requests may finish. */
  close(): Promise<void>;
}

export interface FrontendDeps {
  readonly chain: HookChain;
  readonly metrics: TrackerMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** A site's control channel on the HTTP listener (frontend/control.ts), if a site is configured. */
  readonly control?: ControlHandler;
  /** What `GET /ready` reports (frontend/readiness.ts); absent: ready whenever serving. */
  readonly readiness?: Readiness;
}
