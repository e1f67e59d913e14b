/**
 * `--workers N | auto` and the configurations that cannot run in more than one process.
 * Each worker builds its own Tracker from the config: whatever that tracker keeps in memory,
 * each worker keeps apart. So several workers need the shared store, and the parts that still
 * hold state per process are refused with a message saying why.
 */
import { availableParallelism } from 'node:os';
import type { Config } from '../../config/schema.js';
import { UsageError } from '../usage-error.js';

/** The worker count from `--workers` (undefined: 1; "auto": the cores Node may use). */
export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > 1024) {
    throw new UsageError(`--workers: expected a number from 1 to 1024 or "auto", got "${value}"`);
  }
  return n;
}

/** Throws UsageError when `config` cannot be served by `n` > 1 processes. */
export function checkWorkersConfig(config: Config, n: number): void {
  if (n <= 1) return;
  // (a string comparison: storage names beyond memory come with the stores that add them)
  if ((config.storage.name as string) === 'memory') {
    throw new UsageError(`--workers ${n} needs the shared store (storage: {name: redis}): with memory storage each process would keep its own swarms and baselines`);
  }
  if (config.registry !== undefined && config.registry.admin_token !== '') {
    throw new UsageError(`--workers ${n}: the admin API (registry.admin_token) changes one process's copy of the registry; with several workers set admin_token: "" and change the registry's source instead`);
  }
  if (config.site !== undefined) {
    throw new UsageError(`--workers ${n}: the site profile (site: ${config.site.name}) keeps its state and its control channel per process; run it with one worker`);
  }
}
