/**
 * Bencoded bodies for HTTP responses, and the HTTP/1.1 framing around them.
 * The compact announce body is one allocation: the peer lists write their compact forms into it.
 */
import type { AnnounceRequest, AnnounceResponse, Peer, ScrapeResponse } from '../../bittorrent/types.js';
import { encode, type BValue } from '../../bittorrent/bencode.js';

/** BEP 3/23/7 announce body. Keys are written in bencode's sorted order. */
export function writeAnnounceBody(req: AnnounceRequest, resp: AnnounceResponse): Buffer {
  if (!req.compact) return writeDictionaryModel(req, resp);
  const v4 = resp.ipv4Peers;
  const v6 = resp.ipv6Peers;
  const head = `d8:completei${resp.complete}e10:incompletei${resp.incomplete}e8:intervali${resp.interval}e12:min intervali${resp.minInterval}e5:peers${v4.compactLength}:`;
  const mid = v6.length > 0 ? `6:peers6${v6.compactLength}:` : '';
  const warning = resp.warning === undefined ? '' : `15:warning message${Buffer.byteLength(resp.warning)}:${resp.warning}`;
  const headLen = head.length;
  const midLen = mid.length;
  const warnLen = Buffer.byteLength(warning);
  const out = Buffer.allocUnsafe(headLen + v4.compactLength + midLen + v6.compactLength + warnLen + 1);
  let pos = out.write(head, 0, 'latin1');
  pos = v4.writeCompact(out, pos);
  if (midLen > 0) {
    pos += out.write(mid, pos, 'latin1');
    pos = v6.writeCompact(out, pos);
  }
  if (warnLen > 0) pos += out.write(warning, pos, 'utf8');
  out[pos] = 0x65; // 'e'
  return out;
}

function writeDictionaryModel(req: AnnounceRequest, resp: AnnounceResponse): Buffer {
  const peers: BValue[] = [...resp.ipv4Peers, ...resp.ipv6Peers].map((p: Peer) =>
    req.noPeerId ? { ip: p.ip, port: p.port } : { ip: p.ip, 'peer id': p.id, port: p.port });
  return encode({
    complete: resp.complete,
    incomplete: resp.incomplete,
    interval: resp.interval,
    'min interval': resp.minInterval,
    peers,
    'warning message': resp.warning,
  });
}

/** BEP 48 scrape body: files keyed by the raw 20-byte info_hash. */
export function writeScrapeBody(resp: ScrapeResponse): Buffer {
  const parts: Buffer[] = [Buffer.from('d5:filesd', 'latin1')];
  // Keys of a bencoded dict must be sorted by raw bytes.
  const files = [...resp.files].sort((a, b) => Buffer.compare(a.infoHash, b.infoHash));
  for (const f of files) {
    parts.push(Buffer.from('20:', 'latin1'), f.infoHash, Buffer.from(
      `d8:completei${f.counts.complete}e10:downloadedi${f.counts.downloaded}e10:incompletei${f.counts.incomplete}ee`, 'latin1'));
  }
  parts.push(Buffer.from('ee', 'latin1'));
  return Buffer.concat(parts);
}

export function writeFailureBody(reason: string, retryIn?: number): Buffer {
  return encode({ 'failure reason': reason, 'retry in': retryIn });
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  411: 'Length Required', 413: 'Payload Too Large', 422: 'Unprocessable Content', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** Frames a body as an HTTP/1.1 response: status line, three headers, body, in one Buffer. */
export function frameResponse(status: number, body: Buffer, keepAlive: boolean, contentType = 'text/plain', headOnly = false): Buffer {
  const head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'OK'}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
  // A reply to HEAD: the headers GET would get, Content-Length included, and no body (RFC 9110 §9.3.2).
  const out = Buffer.allocUnsafe(head.length + (headOnly ? 0 : body.length));
  out.write(head, 0, 'latin1');
  if (!headOnly) body.copy(out, head.length);
  return out;
}
