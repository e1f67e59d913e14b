/**
 * The V8 garbage-collector flags privtrak asks node to be started with (`npm start`, the systemd
 * unit): `--max-semi-space-size=32 --no-memory-reducer`. Both are about the 99.9th percentile
 * under load (issue 14, point 1; BENCHMARKS.md, "What the heap kept" and "The memory reducer").
 *
 * `--max-semi-space-size=32` (MB per semi-space; V8's default is 16). A scavenge promotes whatever
 * is still alive to the old generation, and the old generation is collected by full mark-compacts,
 * whose pauses and marking steps held announces for 10-40 ms. An announce allocates 3-5 KB, so
 * with 16 MB semi-spaces a scavenge came several times a second, and anything that lived a little
 * longer (a reply waiting for its journal commit, requests queued behind a registry reload's
 * slice) was promoted. Costs ~30 MB of memory (measured), once, whatever the number of peers.
 *
 * `--no-memory-reducer`. V8's memory reducer has a watchdog: when no full collection has run for
 * 100 s, which is what a tracker that promotes little achieves, it starts one that shrinks the
 * heap, the young generation included. The tracker then scavenged ten times as often for the next
 * ~30 s, promoting more, which brought the next full collections: under a steady load, a stall of
 * 60-120 ms every ~100 s. The reducer is for idle programs (a browser tab in the background); a
 * tracker that has been busy keeps its heap, and full collections still come when the old
 * generation grows.
 *
 * V8 reads both when the heap is created: they must be on the node command line. Only the semi-space
 * size is allowed in NODE_OPTIONS; `--no-memory-reducer` is not (node refuses to start), and
 * `v8.setFlagsFromString` at run time does not stop the reducer (tried). This module only reads what
 * was given, for the log line at start, so an operator who starts `privtrak` another way learns how.
 *
 * A third setting, `--heap-growing-percent=100`, `serve` makes itself (applyHeapGrowing): V8 reads it
 * after every full collection, so it works set at run time (measured), however node was started. After
 * a full collection V8 lets the old generation grow by a factor it derives from how fast the collector
 * marks against how fast the program promotes. A tracker promotes slowly (~1 MB/s under load) and
 * marks its ~80 MB of live heap fast, so V8 chose its minimum, 1.1: an 8 MB step, which is less than
 * the young generation it keeps in reserve, so it started marking again within a second. Once any
 * full collection had run (one for external memory after ~6 minutes of UDP, a registry reload), the
 * tracker ran a full collection every second from then on: 61 in the 110 s after one forced at 8,000
 * UDP announces/s, p99 133 ms; with the factor at 2, none (BENCHMARKS.md, "A full collection every
 * second"). The price: up to twice the live heap between collections (~80 MB more here), once.
 */
import v8 from 'node:v8';
import type { Logger } from '../log.js';

export const RECOMMENDED_SEMI_SPACE_MB = 32;

/** What to put between `node` and the script. */
export const RECOMMENDED_NODE_FLAGS = [`--max-semi-space-size=${RECOMMENDED_SEMI_SPACE_MB}`, '--no-memory-reducer'] as const;

/** Old-generation growth after a full collection, in percent (V8's factor is 1 + percent / 100). */
export const HEAP_GROWING_PERCENT = 100;

/** NODE_OPTIONS first: flags on the command line come after it and win. */
function flagsOf(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return [...(nodeOptions ?? '').split(/\s+/), ...execArgv];
}

/** The --max-semi-space-size given to this process (MB), from its flags or NODE_OPTIONS; undefined if none. */
export function semiSpaceSizeMb(execArgv: readonly string[], nodeOptions: string | undefined): number | undefined {
  return lastNumberFlag(flagsOf(execArgv, nodeOptions), 'max-semi-space-size');
}

/** The value of the last `--NAME=N` among `args` (V8 reads - and _ alike), or undefined. */
function lastNumberFlag(args: Iterable<string>, name: string): number | undefined {
  const flag = new RegExp(`^--${name.replace(/-/g, '[-_]')}=(\\d+)$`);
  let found: number | undefined;
  for (const arg of args) {
    const m = flag.exec(arg);
    if (m?.[1] !== undefined) found = Number(m[1]);
  }
  return found;
}

/** Whether V8's memory reducer runs: on unless the command line turns it off (the last of --[no-]memory-reducer wins). */
export function memoryReducerOn(execArgv: readonly string[]): boolean {
  let on = true;
  for (const arg of execArgv) {
    if (/^--no[-_]memory[-_]reducer$|^--memory[-_]reducer=false$/.test(arg)) on = false;
    else if (/^--memory[-_]reducer(?:=true)?$/.test(arg)) on = true;
  }
  return on;
}

/** The --heap-growing-percent on node's command line (the last one wins), or undefined. */
export function heapGrowingPercentOf(execArgv: readonly string[]): number | undefined {
  return lastNumberFlag(execArgv, 'heap-growing-percent');
}

/**
 * Sets V8's old-generation growth to HEAP_GROWING_PERCENT, unless node's command line set one (the
 * operator's choice stands). Returns the percent in force. `setFlags`: the seam for tests.
 */
export function applyHeapGrowing(execArgv: readonly string[] = process.execArgv, setFlags: (flags: string) => void = v8.setFlagsFromString): number {
  const given = heapGrowingPercentOf(execArgv);
  if (given !== undefined) return given;
  setFlags(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return HEAP_GROWING_PERCENT;
}

export interface GcFlagsNote {
  readonly semiSpaceMb: number | 'default';
  readonly memoryReducer: boolean;
  /** How to start node, when something is missing. */
  readonly hint?: string;
}

/** The start-up log's view of the GC flags, with how to set them when one is missing. */
export function gcFlagsNote(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS']): GcFlagsNote {
  const mb = semiSpaceSizeMb(execArgv, nodeOptions);
  const reducer = memoryReducerOn(execArgv);
  const semiSpaceMb = mb ?? 'default';
  if (mb !== undefined && mb >= RECOMMENDED_SEMI_SPACE_MB && !reducer) return { semiSpaceMb, memoryReducer: reducer };
  return {
    semiSpaceMb,
    memoryReducer: reducer,
    hint: `for fewer and shorter garbage-collection stalls under load start node as \`node ${RECOMMENDED_NODE_FLAGS.join(' ')} `
      + '<privtrak> serve ...` (npm start and the systemd unit do; --no-memory-reducer is not allowed in NODE_OPTIONS)',
  };
}

/**
 * Says once at start how V8's collector is set, with how to set it if it is not as recommended.
 * `heapGrowingPercent`: what applyHeapGrowing put in force.
 */
export function logGcFlags(logger: Logger, heapGrowingPercent: number, note = gcFlagsNote()): void {
  const { semiSpaceMb, memoryReducer, hint } = note;
  const fields = { semiSpaceMb, memoryReducer, heapGrowingPercent };
  if (hint === undefined) logger.info(fields, 'V8 garbage collector set for the tracker');
  else logger.info(fields, `V8 garbage collector not set for the tracker: ${hint}`);
}
