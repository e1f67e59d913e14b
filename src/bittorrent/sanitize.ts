/** Validation of announce fields shared by the HTTP and UDP parsers. */
import { ClientError } from './errors.js';
import type { AnnounceEvent } from './types.js';

export interface NumWantLimits {
  readonly defaultNumWant: number;
  readonly maxNumWant: number;
}

/** Largest counter accepted: exact in a JS number. Larger values are refused, not rounded. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** Parses a non-negative decimal integer byte string (HTTP). Refuses signs, blanks, fractions, overflow. */
export function parseCounter(name: string, value: string | undefined, required: boolean): number {
  if (value === undefined || value === '') {
    if (required) throw new ClientError('MISSING_PARAM', `missing ${name}`);
    return 0;
  }
  if (value.length > 16) throw new ClientError('INVALID_NUMBER', `invalid ${name}: out of range`);
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) throw new ClientError('INVALID_NUMBER', `invalid ${name}: not a non-negative integer`);
    n = n * 10 + d;
  }
  if (n > MAX_COUNTER) throw new ClientError('INVALID_NUMBER', `invalid ${name}: out of range`);
  return n;
}

/** Applies the numwant rules: absent means default, 0 is allowed, larger than max is capped. */
export function sanitizeNumWant(requested: number | undefined, limits: NumWantLimits): number {
  if (requested === undefined) return limits.defaultNumWant;
  return requested > limits.maxNumWant ? limits.maxNumWant : requested;
}

export function validatePort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ClientError('INVALID_PORT', 'invalid port: must be 1-65535');
  }
  return port;
}

const EVENTS: Record<string, AnnounceEvent> = {
  '': 'none', empty: 'none', none: 'none', started: 'started', completed: 'completed', stopped: 'stopped', paused: 'none',
};

export function parseEvent(value: string | undefined): AnnounceEvent {
  if (value === undefined) return 'none';
  const ev = EVENTS[value];
  if (ev === undefined) throw new ClientError('INVALID_EVENT', 'invalid event');
  return ev;
}

/** UDP event numbers (BEP 15): 0 none, 1 completed, 2 started, 3 stopped. */
export function eventFromUdp(code: number): AnnounceEvent {
  switch (code) {
    case 0: return 'none';
    case 1: return 'completed';
    case 2: return 'started';
    case 3: return 'stopped';
    default: throw new ClientError('INVALID_EVENT', 'invalid event');
  }
}

export function requireId(name: 'info_hash' | 'peer_id', value: string | Buffer | undefined): Buffer {
  if (value === undefined) throw new ClientError('MISSING_PARAM', `missing ${name}`);
  if (value.length !== 20) {
    throw new ClientError(name === 'info_hash' ? 'INVALID_INFO_HASH' : 'INVALID_PEER_ID', `invalid ${name}: must be 20 bytes`);
  }
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
}
