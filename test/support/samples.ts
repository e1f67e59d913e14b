/** Loads the announces captured from real clients in ../shared/samples (the project's fixtures). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/support → repository root → ../shared/samples */
export const SAMPLES_DIR = join(here, '..', '..', '..', '..', 'shared', 'samples');

export interface HttpSample {
  client: string;
  /** The raw request: request line and headers, CRLF-terminated, as the client sent them. */
  raw: string;
  requestLine: string;
}

export function httpSamples(): HttpSample[] {
  const text = readFileSync(join(SAMPLES_DIR, 'http-announces.txt'), 'latin1');
  const out: HttpSample[] = [];
  let client = '';
  let current: string[] | undefined;
  const flush = () => {
    if (current && current.length > 0) {
      out.push({ client, raw: `${current.join('\r\n')}\r\n\r\n`, requestLine: current[0]! });
    }
    current = undefined;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) {
      flush();
      client = line.slice(3).split(' ')[0]!;
    } else if (line.startsWith('#')) {
      continue;
    } else if (line.startsWith('GET ')) {
      flush();
      current = [line];
    } else if (line.trim() === '') {
      flush();
    } else if (current) {
      current.push(line);
    }
  }
  flush();
  return out;
}
