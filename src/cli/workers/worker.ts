/**
 * One worker of `privtrak serve --workers N` (a node:cluster worker): a full Tracker on the
 * primary's config, except metrics_addr, which the primary serves for all (cluster-metrics.ts).
 * Its listeners share the primary's sockets (HTTP: frontend/http/cluster-listen.ts for the raw
 * transport, node:net's own cluster support for net; UDP: node:dgram's cluster support).
 * It stops on SIGINT/SIGTERM, on the primary's stop message, or when the primary is gone.
 */
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../log.js';
import { Tracker } from '../../tracker.js';
import { serveUntilStopped } from '../serve-until-stopped.js';
import { answerMetricsRequests } from './cluster-metrics.js';
import { WORKER_SLOT_ENV, WORKER_UDP_KEY_ENV, isMessage, type ReadyMessage, type StopMessage } from './messages.js';

/** This worker's slot (1..N), from the environment the primary forked it with. */
export function workerSlot(): number {
  return Number(process.env[WORKER_SLOT_ENV] ?? '0');
}

export async function runWorker(config: Config): Promise<number> {
  const slot = workerSlot();
  const logger = createLogger(config.log_level, { worker: slot });
  // Listening from the start: a stop asked for while the tracker is still starting is kept and
  // acted on once it has started (else the primary would wait for its deadline, then SIGKILL).
  let requestStop: ((why: Record<string, unknown>) => void) | undefined;
  let pending: Record<string, unknown> | undefined;
  const onStop = (why: Record<string, unknown>) => {
    if (requestStop !== undefined) requestStop(why);
    else pending ??= why;
  };
  process.on('message', (m: unknown) => {
    if (isMessage<StopMessage>(m, 'privtrak:stop')) onStop({ by: 'primary' });
  });
  // The primary died (kill -9): no one would restart or stop us; stop rather than serve unsupervised.
  process.on('disconnect', () => onStop({ by: 'primary gone' }));

  const udpKey = process.env[WORKER_UDP_KEY_ENV] ?? '';
  // One connection-ID key for all workers (messages.ts): never logged, never in the config dump.
  const own = config.udp.private_key === '' && udpKey !== '' ? { ...config, udp: { ...config.udp, private_key: udpKey } } : config;
  const tracker = new Tracker(own, logger, { metricsListener: false });
  answerMetricsRequests(tracker.metrics.prometheus, tracker.statusLoopDelay);
  await tracker.start();
  logger.info({ pid: process.pid, http: tracker.port('http'), udp: tracker.port('udp') }, 'worker started');
  const ready: ReadyMessage = { type: 'privtrak:ready' };
  process.send?.(ready);
  return serveUntilStopped(tracker, logger, config.shutdown_timeout, (stop) => {
    requestStop = stop;
    if (pending !== undefined) stop(pending);
  });
}
