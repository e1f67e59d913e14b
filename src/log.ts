/** Structured logs (pino) to stdout. pino writes synchronously by default, so nothing is lost on exit. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'privtrak' } });
}

export type { Logger };
