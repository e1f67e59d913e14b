/** Structured logs (pino) to stdout. pino writes synchronously by default, so nothing is lost on exit. */
import { pino, type Logger } from 'pino';

/** `fields` are added to every line (e.g. `{ worker: 2 }` in a `serve --workers N` worker). */
export function createLogger(level: string, fields: Record<string, string | number> = {}): Logger {
  return pino({ level, base: { name: 'privtrak', ...fields } });
}

export type { Logger };
