/**
 * The delta being journalled, one object for every announce: the journal encodes it at once
 * (accounting/delta-record.ts) and nothing keeps it, so an announce allocates no delta object.
 */
import type { AnnounceEvent, AnnounceRequest } from '../../bittorrent/types.js';
import type { Baseline, StatDelta } from '../../accounting/delta.js';
import type { RequestContext } from '../context.js';
import type { DeltaOutcome } from './rules.js';

const NO_ID = Buffer.alloc(0);

/** Credited bytes for raw bytes under a multiplier (freeleech): rounded down, never above 2^53 - 1. */
export function credit(raw: number, multiplier: number | undefined): number {
  if (multiplier === undefined || multiplier === 1) return raw;
  const n = Math.floor(raw * multiplier);
  return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n;
}

export class DeltaScratch implements StatDelta {
  seq = 0;
  user: Buffer = NO_ID;
  infoHash: Buffer = NO_ID;
  peerId: Buffer = NO_ID;
  ip = '';
  port = 0;
  event: AnnounceEvent = 'none';
  uploaded = 0;
  downloaded = 0;
  left = 0;
  deltaUp = 0;
  deltaDown = 0;
  creditUp = 0;
  creditDown = 0;
  siteTorrentId: number | null = null;
  seedTime = 0;
  leechTime = 0;
  snatch = false;
  flags = 0;
  timeMs = 0;
  baseline: Baseline | null = null;

  /** Fills in one announce's delta: the request's facts, the rule table's outcome, the context's credit and site IDs. */
  fill(seq: number, user: Buffer, req: AnnounceRequest, ctx: RequestContext, out: DeltaOutcome, nowMs: number): this {
    this.seq = seq;
    this.user = user;
    this.infoHash = req.infoHash;
    this.peerId = req.peer.id;
    this.ip = req.peer.ip;
    this.port = req.peer.port;
    this.event = req.event;
    this.uploaded = req.uploaded;
    this.downloaded = req.downloaded;
    this.left = req.left;
    this.deltaUp = out.deltaUp;
    this.deltaDown = out.deltaDown;
    this.creditUp = credit(out.deltaUp, ctx.uploadMultiplier);
    this.creditDown = credit(out.deltaDown, ctx.downloadMultiplier);
    this.siteTorrentId = ctx.siteTorrentId ?? null;
    this.seedTime = out.seedTime;
    this.leechTime = out.leechTime;
    this.snatch = out.snatch;
    this.flags = out.flags;
    this.timeMs = nowMs;
    this.baseline = out.next;
    return this;
  }
}
