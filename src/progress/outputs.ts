/**
 * Where progress goes: operator commands write to stderr (a bar when it is a terminal, plain
 * `privtrak: …` lines otherwise, like their other messages); the tracker writes periodic lines
 * and the summary to its pino log, with the numbers as fields.
 */
import type { Logger } from 'pino';
import { Progress, type ProgressOptions, type TtyOutput } from './progress.js';

/** stderr if a terminal is watching it: the bar then goes there. */
export function stderrTty(): TtyOutput | undefined {
  return process.stderr.isTTY ? process.stderr : undefined;
}

/** Progress of an operator command, on stderr. */
export function cliProgress(options: Omit<ProgressOptions, 'log' | 'tty'>): Progress {
  return new Progress({ ...options, tty: stderrTty(), log: (line) => process.stderr.write(`privtrak: ${line}\n`) });
}

/** Progress in the tracker's logs (info level, the numbers under `progress`); `tty` adds the bar. */
export function logProgress(logger: Logger, options: Omit<ProgressOptions, 'log'>): Progress {
  return new Progress({ ...options, log: (line, fields) => logger.info({ progress: fields }, line) });
}
