/**
 * A site profile: everything privtrak needs to stand in for a site's own announce server
 * (UNIT3D-Announce for UNIT3D, Ocelot for Gazelle) with one `site:` block in the config.
 * One folder per site under src/sites/, each exporting a SiteFactory (index.ts lists them).
 *
 * A profile is four parts, wired by the tracker (src/tracker.ts):
 * - `hook`: the site's announce rules (who may announce what, with which credit factors). It
 *   runs first among the pre-hooks and sets ctx.siteUserId / ctx.siteTorrentId and the
 *   multipliers, so the privtrak hook keys the delta by the site's user ID.
 * - `sink`: the privtrak hook's sink. It writes the site's own tables (users' totals, history,
 *   peers, torrent counters) from each batch, in one transaction with privtrak's applied mark
 *   (a table of privtrak's own in the site database): a retried batch or a crash changes nothing twice.
 * - `control`: the control channel the site calls (UNIT3D's push API, Gazelle's `/update`),
 *   served on the HTTP listener beside announces, as the site expects.
 * - `start`/`stop`: loads the site's state (users, torrents, groups, tokens…) before the hooks start.
 */
import type { Logger } from 'pino';
import type { Registry as PrometheusRegistry } from 'prom-client';
import type { Hook } from '../middleware/hook.js';
import type { DeltaSink } from '../sinks/sink.js';
import type { PeerStore } from '../storage/peer-store.js';
import type { SiteConfig } from './config.js';
import type { PeerExtras } from './peer-extras.js';
import type { ControlHandler } from '../frontend/control.js';

export type { ControlHandler, ControlReply, ControlRequest } from '../frontend/control.js';

export interface SiteProfile {
  readonly name: string;
  readonly hook: Hook;
  /** The privtrak hook's sink: writes the site's tables. Undefined with `readonly: true` (dry run). */
  readonly sink: DeltaSink | undefined;
  readonly control: ControlHandler;
  /** Connects and loads the site's state; a failed load stops the tracker's start. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What a site factory is given: the tracker's shared parts. */
export interface SiteDeps {
  readonly logger: Logger;
  readonly prometheus: PrometheusRegistry;
  readonly store: PeerStore;
  readonly announceIntervalMs: number;
  /** The swarm store's peer_lifetime: a peer silent for longer is no longer active (its site row is marked so). */
  readonly peerLifetimeMs: number;
  /** Per-peer facts the site tables hold but a delta does not (user agent, visibility). */
  readonly extras: PeerExtras;
}

export type SiteFactory<C extends SiteConfig = SiteConfig> = (config: C, deps: SiteDeps) => SiteProfile;
