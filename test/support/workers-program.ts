/**
 * `privtrak serve --workers N` without the CLI's refusal of memory storage: the same primary
 * and workers (src/cli/workers/), so that process supervision — restarts, the give-up on a
 * crash loop, signals, the merged metrics — is tested without Redis. Supervision does not
 * depend on the store; only the CLI's policy does, and that is tested through the CLI.
 *
 * usage: node dist/test/support/workers-program.js CONFIG N
 */
import cluster from 'node:cluster';
import { loadConfigFile } from '../../src/config/load.js';
import { runPrimary } from '../../src/cli/workers/primary.js';
import { runWorker } from '../../src/cli/workers/worker.js';
import { applyHeapGrowing } from '../../src/cli/gc-flags.js';

const [configPath, n] = process.argv.slice(2);
try {
  const config = loadConfigFile(configPath!);
  const heapGrowingPercent = applyHeapGrowing(); // as main.ts's serve does
  process.exit(cluster.isWorker ? await runWorker(config) : await runPrimary(config, Number(n), heapGrowingPercent));
} catch (err) {
  console.error(`privtrak: ${(err as Error).message}`);
  process.exit(1);
}
