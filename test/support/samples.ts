/**
 * Loads the announces captured from real clients (`../shared/samples`, copied into
 * test/fixtures/samples so that a clone anywhere has its fixtures).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/support → repository root → test/fixtures/samples (not compiled: read from the source tree). */
export const SAMPLES_DIR = join(here, '..', '..', '..', 'test', 'fixtures', 'samples');

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

export interface UdpSample {
  client: string;
  packets: Buffer[];
}

export function udpSamples(): UdpSample[] {
  const text = readFileSync(join(SAMPLES_DIR, 'udp-announces.txt'), 'latin1');
  const out: UdpSample[] = [];
  for (const line of text.split('\n')) {
    const client = line.slice(3).split(/[ :]/)[0]!;
    // A second "## <client> ..." line is a note on the same client, not a new section.
    if (line.startsWith('## ')) { if (out[out.length - 1]?.client !== client) out.push({ client, packets: [] }); }
    else if (/^[0-9a-f]+$/.test(line.trim()) && out.length > 0) out[out.length - 1]!.packets.push(Buffer.from(line.trim(), 'hex'));
  }
  return out;
}
