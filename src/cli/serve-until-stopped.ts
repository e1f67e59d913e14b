/**
 * The life of a started tracker process (`serve`, or one worker of `serve --workers N`): it runs
 * until asked to stop — SIGINT/SIGTERM, or whatever else the caller wires to `requestStop` — then
 * stops the tracker within shutdown_timeout. Resolves with the exit code: 0 after a clean stop,
 * 1 if a part failed to stop or the deadline passed. A second signal exits at once (1).
 */
import type { Logger } from 'pino';
import type { Tracker } from '../tracker.js';

export function serveUntilStopped(
  tracker: Tracker, logger: Logger, shutdownTimeoutMs: number,
  wire: (requestStop: (why: Record<string, unknown>) => void) => void = () => undefined,
): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (why: Record<string, unknown>) => {
      // Several triggers may fire for one stop (a terminal's Ctrl-C reaches a worker directly and
      // through the primary): the first one counts.
      if (stopping) return;
      stopping = true;
      logger.info(why, 'stopping');
      const deadline = setTimeout(() => {
        logger.error('shutdown timed out');
        resolve(1);
      }, shutdownTimeoutMs);
      deadline.unref();
      tracker.stop().then((errors) => {
        clearTimeout(deadline);
        logger.info({ errors: errors.length }, 'stopped');
        resolve(errors.length === 0 ? 0 : 1);
      });
    };
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stop({ signal });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    wire(stop);
  });
}
