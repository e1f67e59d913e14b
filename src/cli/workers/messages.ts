/**
 * What the primary and the workers of `privtrak serve --workers N` say to each other over the
 * cluster IPC channel. Every message has a `type` starting with "privtrak:" so that other
 * listeners on the channel (node:cluster's own, prom-client's) can ignore ours.
 */
import type { Registry } from 'prom-client';

/** One registry's metrics in prom-client's JSON form (what AggregatorRegistry.aggregate takes). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Environment the primary sets for each worker it forks. */
export const WORKER_SLOT_ENV = 'PRIVTRAK_WORKER';
/**
 * The UDP connection-ID key when the config leaves `udp.private_key` empty (random at start):
 * one random key for all workers, since a client's connect and its announce may reach different
 * workers through the shared socket.
 */
export const WORKER_UDP_KEY_ENV = 'PRIVTRAK_WORKER_UDP_KEY';

/** Worker → primary: the tracker is started (its listeners accept). */
export interface ReadyMessage {
  readonly type: 'privtrak:ready';
}

/** Primary → worker: stop gracefully, as on SIGTERM. */
export interface StopMessage {
  readonly type: 'privtrak:stop';
}

/** Primary → worker: send your metrics (prom-client's JSON form). */
export interface MetricsRequest {
  readonly type: 'privtrak:metrics-req';
  readonly id: number;
  /** For the status page: without the collector that resets on read, with the page's own delay (metrics/status-metrics.ts). */
  readonly status?: boolean;
}

/** Worker → primary: the answer to a MetricsRequest. */
export interface MetricsReply {
  readonly type: 'privtrak:metrics-res';
  readonly id: number;
  readonly metrics: MetricsJson;
}

export type WorkerMessage = ReadyMessage | MetricsReply;
export type PrimaryMessage = StopMessage | MetricsRequest;

/** Narrows an IPC message to one of ours of the given type. */
export function isMessage<T extends WorkerMessage | PrimaryMessage>(m: unknown, type: T['type']): m is T {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}
