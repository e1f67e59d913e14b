/** Options of the `privtrak` hook (its `options:` block). Names follow the Go original where it had them. */
import { z } from 'zod';
import { durationSchema as duration } from '../../config/zod-duration.js';
import { identifierSchema } from './identifier.js';
import { sinkOptionsSchema } from '../../sinks/index.js';

export const privtrakOptionsSchema = z.object({
  /** Deltas per batch handed to the sink (a batch is folded into one row per user and torrent before writing). */
  batch_size: z.number().int().min(1).max(100_000).default(10_000),
  /** A batch is flushed at least this often, full or not. */
  flush_interval: duration('1s'),
  /** Above this many pending deltas, announces are refused with a retryable "tracker busy". */
  max_pending: z.number().int().min(1).default(200_000),
  /** Baseline shards: garbage collection walks one shard per event-loop turn. */
  shard_count: z.number().int().min(1).max(65536).default(256),
  /** How often stale baselines are purged. */
  gc_interval: duration('1m'),
  /** How often the privtrak gauges are refreshed. */
  prometheus_reporting_interval: duration('1s'),
  /** A peer silent for longer no longer counts as active in privtrak_peers_active. */
  peer_lifetime: duration('31m'),
  /** Baselines of silent peers are kept this long, so a late announce is not taken for a new session. */
  baseline_lifetime: duration('7d'),
  /** Name of this tracker in the sink: separate trackers sharing one database need separate names. */
  instance: z.string().min(1).max(64).default('default'),
  /** Directory of the append-only delta journal. */
  journal_dir: z.string().min(1).default('./data/journal'),
  /**
   * How journal records reach the disk: `mmap` copies them into a memory-mapped file (no system
   * call per announce; needs the native addon built by npm install), `write` uses one write(2) per
   * commit; `auto` is mmap where the addon is built. Both survive the process being killed.
   */
  journal_io: z.enum(['auto', 'mmap', 'write']).default('auto'),
  /** fsync the journal before each flush, and checkpoints (survives power loss, not only process crashes). */
  journal_fsync: z.boolean().default(false),
  /** How often every baseline is written to a checkpoint, so the journal before it can be deleted. */
  checkpoint_interval: duration('5m'),
  /** ... or after this many journal records, whichever comes first (bounds the journal's size and the replay at start). */
  checkpoint_records: z.number().int().min(1000).default(1_000_000),
  /** Longest wait between retries of a failed flush. */
  max_retry_backoff: duration('30s'),
  identifier: identifierSchema.default({}),
  sink: sinkOptionsSchema.default({ name: 'sqlite' }),
}).strict();

export type PrivtrakOptions = z.output<typeof privtrakOptionsSchema>;
