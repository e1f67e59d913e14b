/**
 * `peer_limits`: at most `max_peers_per_torrent` active peers (distinct peer_ids that announced
 * within `peer_lifetime`; a `stopped` frees its slot) per user per torrent, and a per-user
 * announce rate limit (a token bucket: `rate_limit.announces` per `rate_limit.per`, bursts of
 * up to `rate_limit.burst`). Refusals (docs/errors.md):
 *
 *   too many peers on this torrent (at most N per user)   TOO_MANY_PEERS
 *   too many announces, slow down                         RATE_LIMITED
 *
 * The user is ctx.userId, the site user's key set by an earlier hook (user_approval), so a passkey
 * change keeps the user's slots; without one it is the passkey's bytes (held in memory only).
 * Place it after user_approval, so that only known users get state. Expired state is swept every `gc_interval`, a slice per event-loop turn.
 */
import { z } from 'zod';
import { Gauge } from 'prom-client';
import type { AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Hook } from '../hook.js';
import type { RequestContext } from '../context.js';
import type { HookDeps } from '../hook.js';
import { parseHookOptions } from '../options.js';
import { durationSchema } from '../../config/zod-duration.js';
import { refusalCounters, type RefusalCounters } from '../refusals.js';
import { createPasskeyIdentifier, identifierSchema, type UserIdentifier } from '../privtrak/identifier.js';
import { PeerLimiter, RATE_LIMITED, TOO_MANY_PEERS } from './peer-limiter.js';

export const peerLimitsOptionsSchema = z.object({
  /** Distinct peer_ids per user per torrent; 0 = no limit. */
  max_peers_per_torrent: z.number().int().min(0).max(1000).default(3),
  /** A peer silent for longer frees its slot (keep it equal to storage.config.peer_lifetime). */
  peer_lifetime: durationSchema('31m'),
  rate_limit: z.object({
    /** Announces allowed per `per`; 0 = no rate limit. */
    announces: z.number().int().min(0).default(0),
    per: durationSchema('1m'),
    /** Announces allowed in a burst (a client starting many torrents at once); 0 = `announces`. */
    burst: z.number().int().min(0).default(0),
  }).strict().default({}),
  /** How often expired state is swept. */
  gc_interval: durationSchema('1m'),
  /** Where the passkey is read when no earlier hook set the user (as the privtrak hook). */
  identifier: identifierSchema.default({}),
}).strict();

export type PeerLimitsOptions = z.output<typeof peerLimitsOptionsSchema>;

const REASONS = ['too_many_peers', 'rate_limited'] as const;
/** Users examined per event-loop turn while sweeping. */
const SWEEP_SLICE = 5000;

export class PeerLimitsHook implements Hook {
  readonly name = 'peer_limits';
  readonly limiter: PeerLimiter;
  private readonly identifier: UserIdentifier;
  private readonly refused: RefusalCounters<(typeof REASONS)[number]>;
  private readonly tooManyPeers: ClientError;
  private readonly rateLimited = new ClientError('RATE_LIMITED', 'too many announces, slow down');
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(private readonly opts: PeerLimitsOptions, deps: Pick<HookDeps, 'prometheus'>, private readonly now: () => number = Date.now) {
    const burst = opts.rate_limit.announces === 0 ? 0 : opts.rate_limit.burst || opts.rate_limit.announces;
    this.limiter = new PeerLimiter({
      maxPeers: opts.max_peers_per_torrent,
      peerLifetimeMs: opts.peer_lifetime,
      burst,
      refillPerMs: opts.rate_limit.per > 0 ? opts.rate_limit.announces / opts.rate_limit.per : 0,
    });
    this.identifier = createPasskeyIdentifier(opts.identifier);
    this.tooManyPeers = new ClientError('TOO_MANY_PEERS', `too many peers on this torrent (at most ${opts.max_peers_per_torrent} per user)`);
    this.refused = refusalCounters(deps.prometheus, this.name, REASONS);
    const limiter = this.limiter;
    if (!deps.prometheus.getSingleMetric('privtrak_peer_limits_users')) {
      new Gauge({
        name: 'privtrak_peer_limits_users', help: 'Users with peer-limit or rate-limit state held in memory.', registers: [deps.prometheus],
        collect() { this.set(limiter.trackedUsers); },
      });
    }
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.sweep(), this.opts.gc_interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  /** One full sweep, a slice per event-loop turn; resolves when done. */
  sweep(): Promise<void> {
    if (this.sweeping) return Promise.resolve();
    this.sweeping = true;
    return new Promise((resolve) => {
      const step = () => {
        if (this.limiter.sweep(this.now(), SWEEP_SLICE)) {
          this.sweeping = false;
          resolve();
        } else {
          setImmediate(step);
        }
      };
      step();
    });
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): void {
    const user = ctx.userId ?? this.identifier.identify(ctx);
    const verdict = this.limiter.announce(
      user.toString('latin1'), req.infoHash.toString('latin1'), req.peer.id.toString('latin1'), req.event === 'stopped', this.now(),
    );
    if (verdict === RATE_LIMITED) {
      this.refused.rate_limited.inc();
      throw this.rateLimited;
    }
    if (verdict === TOO_MANY_PEERS) {
      this.refused.too_many_peers.inc();
      throw this.tooManyPeers;
    }
  }

  handleScrape(): void {}
}

export function createPeerLimitsHook(options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  return new PeerLimitsHook(parseHookOptions(peerLimitsOptionsSchema, options, path), deps);
}
