/** Purges baselines of peers silent for longer than baseline_lifetime, one shard per event-loop turn. */
import type { Logger } from 'pino';
import type { BaselineStore } from './baselines.js';
import type { PrivtrakMetrics } from './metrics.js';

/** Resolves with the baselines removed; stops early (between shards) once `running()` is false. */
export function collectBaselines(baselines: BaselineStore, cutoffMs: number, running: () => boolean, metrics: PrivtrakMetrics, logger: Logger): Promise<number> {
  const end = metrics.gcDuration.startTimer();
  return new Promise((resolve) => {
    let removed = 0;
    let shard = 0;
    const step = () => {
      try {
        removed += baselines.collectShard(shard, cutoffMs);
      } catch (err) {
        logger.error({ err, shard }, 'baseline gc failed on a shard');
      }
      shard++;
      if (shard < baselines.shardCount && running()) {
        setImmediate(step);
        return;
      }
      end();
      resolve(removed);
    };
    step();
  });
}
