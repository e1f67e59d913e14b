/** Test helpers: send raw HTTP requests over a TCP socket and read the whole reply. */
import { connect } from 'node:net';

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export function parseReply(raw: Buffer): RawReply {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no header end in ${JSON.stringify(raw.toString('latin1'))}`);
  const lines = raw.toString('latin1', 0, end).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
  }
  const len = Number(headers['content-length']);
  return { status, headers, body: raw.subarray(end + 4, end + 4 + len) };
}

/** Length of the first complete response in `raw` (headers + Content-Length body), or -1. */
function completeLength(raw: Buffer): number {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return -1;
  const m = /content-length:\s*(\d+)/i.exec(raw.toString('latin1', 0, end));
  const total = end + 4 + (m ? Number(m[1]) : 0);
  return raw.length >= total ? total : -1;
}

/**
 * Writes `request` (bytes as given) and resolves with what the server sent: like a real client,
 * it closes once a complete response has arrived; it also resolves when the server closes first.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 3000, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host }, () => socket.write(request));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout waiting for reply'));
    }, timeoutMs);
    socket.on('data', (c) => {
      chunks.push(c);
      if (completeLength(Buffer.concat(chunks)) > 0) socket.end();
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

export async function get(port: number, target: string, headers: Record<string, string> = {}): Promise<RawReply> {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return parseReply(await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`));
}

/** Percent-encodes every byte: binary-safe for info_hash and peer_id. */
export function escapeBytes(buf: Buffer): string {
  let out = '';
  for (const b of buf) out += `%${b.toString(16).padStart(2, '0')}`;
  return out;
}
