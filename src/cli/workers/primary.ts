/**
 * The primary of `privtrak serve --workers N` (node:cluster): forks N workers (worker.ts), each a
 * full Tracker on the same config over the shared store, and supervises them.
 *
 * - Listeners: the primary binds each HTTP and UDP socket once and every worker accepts on it
 *   (SCHED_NONE: see frontend/http/cluster-listen.ts for why not round-robin).
 * - A worker that exits unexpectedly is forked again, after a backoff that grows while it keeps
 *   dying soon after its start (100 ms, doubling up to 5 s; back to 100 ms after 10 s of service).
 * - A worker that fails before it is ready (bad config, port taken, store unreachable) three times
 *   in a row means every new one will too: the primary stops the others and exits 1.
 * - SIGINT/SIGTERM: each worker is told to stop (IPC); the primary exits 0 once all have exited
 *   with 0, 1 if one did not stop cleanly or in time (shutdown_timeout, then SIGKILL).
 * - metrics_addr is served here, merging the workers' registries (cluster-metrics.ts), with the
 *   status page (metrics/status-page.ts) over the same merged registries.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../log.js';
import { logGcFlags } from '../gc-flags.js';
import { packageVersion } from '../../metrics/build-info.js';
import { startMetricsServer } from '../../metrics/server.js';
import { createStatusRoutes } from '../../metrics/status-page.js';
import { ClusterMetrics } from './cluster-metrics.js';
import { WORKER_SLOT_ENV, WORKER_UDP_KEY_ENV, isMessage, type ReadyMessage, type StopMessage } from './messages.js';

/** Failures before ready, in a row, after which the primary gives up. */
const START_FAILURES_LIMIT = 3;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
/** A worker that served this long before dying is restarted without delay growth. */
const STABLE_MS = 10_000;

interface Slot {
  readonly slot: number;
  worker: Worker | undefined;
  ready: boolean;
  readyAt: number;
  /** Exits before ready, in a row. */
  startFailures: number;
  /** Exits soon after start, in a row (the backoff's exponent). */
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
  lastExit: number | undefined;
}

/** `heapGrowingPercent`: what applyHeapGrowing put in force (each worker applies the same at its start). */
export async function runPrimary(config: Config, n: number, heapGrowingPercent: number): Promise<number> {
  const logger = createLogger(config.log_level, { role: 'primary' });
  // Before the first fork: node:cluster reads it then.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const slots: Slot[] = Array.from({ length: n }, (_, i) => ({
    slot: i + 1, worker: undefined, ready: false, readyAt: 0, startFailures: 0, crashes: 0, restartTimer: undefined, lastExit: undefined,
  }));
  const metrics = new ClusterMetrics(() => slots);
  let metricsServer: Server | undefined;
  if (config.metrics_addr !== '') {
    const status = createStatusRoutes({ read: () => metrics.statusMetrics(), config, token: config.registry?.admin_token });
    metricsServer = await startMetricsServer(config.metrics_addr, metrics, [status]);
    const a = metricsServer.address();
    logger.info({ addr: config.metrics_addr, port: typeof a === 'object' && a !== null ? a.port : 0 }, 'metrics listening');
  }
  // A random key when the config has none, the same for every worker (messages.ts).
  const udpKey = config.udp.private_key === '' ? randomBytes(32).toString('base64url') : '';
  logger.info({ workers: n, http_sharing: 'cluster SCHED_NONE (one socket, every worker accepts)', udp_sharing: 'cluster (one socket)' }, 'starting workers');

  return new Promise<number>((resolve) => {
    let stopping = false;
    let started = false;
    let failed = false;
    let deadline: NodeJS.Timeout | undefined;

    const finish = async () => {
      if (slots.some((s) => s.worker !== undefined)) return;
      if (deadline) clearTimeout(deadline);
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise<void>((done) => metricsServer!.close(() => done()));
      }
      const clean = !failed && slots.every((s) => s.lastExit === 0);
      logger.info({ clean }, 'stopped');
      resolve(clean ? 0 : 1);
    };

    const stopAll = (why: Record<string, unknown>) => {
      if (stopping) return;
      stopping = true;
      logger.info(why, 'stopping workers');
      const stop: StopMessage = { type: 'privtrak:stop' };
      for (const s of slots) {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        s.restartTimer = undefined;
        if (s.worker?.isConnected()) s.worker.send(stop);
        else s.worker?.process.kill('SIGTERM');
      }
      deadline = setTimeout(() => {
        logger.error('workers did not stop within shutdown_timeout: killing them');
        failed = true;
        for (const s of slots) s.worker?.process.kill('SIGKILL');
      }, config.shutdown_timeout + 1000);
      void finish();
    };

    const fork = (s: Slot) => {
      s.restartTimer = undefined;
      s.ready = false;
      const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(s.slot), [WORKER_UDP_KEY_ENV]: udpKey });
      s.worker = worker;
      worker.on('message', (m: unknown) => {
        if (!isMessage<ReadyMessage>(m, 'privtrak:ready')) return;
        // Stopping already: a stop sent while it was loading may have found no listener yet.
        if (stopping) {
          const stop: StopMessage = { type: 'privtrak:stop' };
          worker.send(stop);
          return;
        }
        s.ready = true;
        s.readyAt = Date.now();
        s.startFailures = 0;
        metrics.alive.set(slots.filter((x) => x.ready).length);
        if (!started && slots.every((x) => x.ready)) {
          started = true;
          logger.info({ version: packageVersion(), workers: n }, 'privtrak started');
          logGcFlags(logger, heapGrowingPercent); // the workers run with the primary's flags and NODE_OPTIONS
        }
      });
      worker.on('exit', (code, signal) => onExit(s, worker, code, signal));
    };

    const onExit = (s: Slot, worker: Worker, code: number | null, signal: string | null) => {
      if (s.worker !== worker) return;
      const wasReady = s.ready;
      s.worker = undefined;
      s.ready = false;
      s.lastExit = code ?? -1;
      metrics.alive.set(slots.filter((x) => x.ready).length);
      if (stopping) {
        logger.info({ worker: s.slot, pid: worker.process.pid, code, signal }, 'worker exited');
        void finish();
        return;
      }
      if (!wasReady) {
        s.startFailures++;
        if (s.startFailures >= START_FAILURES_LIMIT) {
          logger.error({ worker: s.slot, code, signal }, 'worker failed at start repeatedly');
          console.error(`privtrak: worker ${s.slot} failed at start ${s.startFailures} times in a row (last exit: ${code ?? signal}); see its error above. Giving up.`);
          failed = true;
          stopAll({ reason: 'workers crash-loop at start' });
          return;
        }
      } else {
        metrics.restarts.inc();
        s.crashes = Date.now() - s.readyAt >= STABLE_MS ? 0 : s.crashes + 1;
      }
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(s.crashes, s.startFailures - 1));
      logger.warn({ worker: s.slot, pid: worker.process.pid, code, signal, restart_in_ms: delay }, wasReady ? 'worker died: restarting' : 'worker failed at start: retrying');
      s.restartTimer = setTimeout(() => fork(s), delay);
    };

    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.warn({ signal }, 'second signal: killing workers and exiting now');
        for (const s of slots) s.worker?.process.kill('SIGKILL');
        process.exit(1);
      }
      stopAll({ signal });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (const s of slots) fork(s);
  });
}
