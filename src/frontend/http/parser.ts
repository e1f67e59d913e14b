/**
 * Turns an HTTP announce/scrape query into protocol requests (BEP 3, 7, 23, 48).
 * Values are byte strings from decodeQuery; info_hash and peer_id stay binary.
 * Parameters the protocol does not use are handed to hooks as `ctx.query`.
 */
import type { AnnounceRequest, ScrapeRequest } from '../../bittorrent/types.js';
import { ClientError } from '../../bittorrent/errors.js';
import { decodeQuery } from '../../bittorrent/query.js';
import { familyOf, makePeer } from '../../bittorrent/ip.js';
import { parseCounter, parseEvent, requireId, sanitizeNumWant, validatePort } from '../../bittorrent/sanitize.js';
import type { HttpConfig } from '../../config/schema.js';

export interface ParsedAnnounce {
  readonly request: AnnounceRequest;
  /** Query parameters the protocol does not consume (e.g. `passkey`, `key`). */
  readonly extra: Record<string, string>;
}

type AnnounceLimits = Pick<HttpConfig, 'default_numwant' | 'max_numwant' | 'allow_ip_spoofing'>;

export function parseAnnounce(query: string, clientIp: string, cfg: AnnounceLimits): ParsedAnnounce {
  let infoHash: string | undefined;
  let peerId: string | undefined;
  let port: string | undefined;
  let uploaded: string | undefined;
  let downloaded: string | undefined;
  let left: string | undefined;
  let event: string | undefined;
  let numwant: string | undefined;
  let compact = true;
  let noPeerId = false;
  let ip: string | undefined;
  let ipv6: string | undefined;
  let extra: Record<string, string> | undefined;
  decodeQuery(query, (key, value) => {
    switch (key) {
      case 'info_hash':
        if (infoHash !== undefined) throw new ClientError('INVALID_INFO_HASH', 'invalid info_hash: given more than once');
        infoHash = value;
        break;
      case 'peer_id': peerId = value; break;
      case 'port': port = value; break;
      case 'uploaded': uploaded = value; break;
      case 'downloaded': downloaded = value; break;
      case 'left': left = value; break;
      case 'event': event = value; break;
      case 'numwant': numwant = value; break;
      case 'compact': compact = value !== '0'; break;
      case 'no_peer_id': noPeerId = value === '1'; break;
      case 'ip': case 'ipv4': if (ip === undefined || key === 'ip') ip = value; break;
      case 'ipv6': ipv6 = value; break;
      default: (extra ??= {})[key] = value;
    }
  });
  const ih = requireId('info_hash', infoHash);
  const pid = requireId('peer_id', peerId);
  if (port === undefined) throw new ClientError('MISSING_PARAM', 'missing port');
  const portNum = validatePort(parseCounter('port', port, true));
  const requested = numwant === undefined || numwant === '' ? undefined : parseNumWant(numwant);
  let address = clientIp;
  if (cfg.allow_ip_spoofing) {
    const spoofed = ipv6 !== undefined && familyOf(ipv6) === 6 ? ipv6 : ip;
    if (spoofed !== undefined) {
      if (familyOf(spoofed) === 0) throw new ClientError('INVALID_IP', 'invalid ip parameter');
      address = spoofed;
    }
  }
  const request: AnnounceRequest = {
    infoHash: ih,
    peer: makePeer(pid, address, portNum),
    event: parseEvent(event),
    uploaded: parseCounter('uploaded', uploaded, true),
    downloaded: parseCounter('downloaded', downloaded, true),
    left: parseCounter('left', left, true),
    numWant: sanitizeNumWant(requested, { defaultNumWant: cfg.default_numwant, maxNumWant: cfg.max_numwant }),
    compact,
    noPeerId,
    transport: 'http',
  };
  return { request, extra: extra ?? {} };
}

function parseNumWant(value: string): number {
  // numwant is a count: a sign, a fraction or more than 2^31 digits is a broken client, not a request for "all".
  if (value.length > 10) throw new ClientError('INVALID_NUMBER', 'invalid numwant: out of range');
  const n = parseCounter('numwant', value, false);
  if (n > 0x7fffffff) throw new ClientError('INVALID_NUMBER', 'invalid numwant: out of range');
  return n;
}

export function parseScrape(query: string, clientIp: string, maxInfoHashes: number): { request: ScrapeRequest; extra: Record<string, string> } {
  const hashes: Buffer[] = [];
  const seen = new Set<string>();
  let extra: Record<string, string> | undefined;
  decodeQuery(query, (key, value) => {
    if (key !== 'info_hash') {
      (extra ??= {})[key] = value;
      return;
    }
    const ih = requireId('info_hash', value);
    if (seen.has(value)) return;
    seen.add(value);
    if (hashes.length >= maxInfoHashes) {
      throw new ClientError('TOO_MANY_INFO_HASHES', `too many info_hashes: at most ${maxInfoHashes} per scrape`);
    }
    hashes.push(ih);
  });
  if (hashes.length === 0) throw new ClientError('MISSING_PARAM', 'missing info_hash');
  const family = familyOf(clientIp) === 6 ? 6 : 4;
  return { request: { infoHashes: hashes, family, transport: 'http' }, extra: extra ?? {} };
}
