/**
 * The unit3d site profile (`site: {name: unit3d, …}`): privtrak in place of UNIT3D-Announce.
 *
 *   state.ts       what the rules read (users, torrents, groups, tokens…), in memory
 *   loader.ts      reads it from the site's database at start and on POST /config/reload
 *   rules-hook.ts  UNIT3D-Announce's announce rules and credit factors, first pre-hook
 *   push-api.ts    the API UNIT3D calls to change the state, on the announce listener
 *   writer.ts      the privtrak hook's sink writing UNIT3D's tables (absent with readonly: true)
 */
import { Gauge } from 'prom-client';
import type { Unit3dSiteConfig } from '../config.js';
import type { SiteDeps, SiteProfile } from '../site.js';
import { loadUnit3dSnapshot } from './loader.js';
import { Unit3dPushApi } from './push-api.js';
import { RequestStats } from './request-stats.js';
import { Unit3dRulesHook } from './rules-hook.js';
import { Unit3dState } from './state.js';
import { Unit3dWriter } from './writer.js';

/** How often silent peers leave the rules' index (and stale PeerExtras go). */
const SWEEP_INTERVAL_MS = 60_000;

export function createUnit3dSite(config: Unit3dSiteConfig, deps: SiteDeps): SiteProfile {
  const state = new Unit3dState({
    donorImmunityOverride: config.donor_immunity_override,
    lifetimeDonorImmunityOverride: config.lifetime_donor_immunity_override,
  }, deps.peerLifetimeMs);
  const stats = new RequestStats();
  const writer = config.readonly ? undefined : new Unit3dWriter(config, state, deps);
  const hook = new Unit3dRulesHook(config, { state, extras: deps.extras, stats, prometheus: deps.prometheus, unregistered: writer });
  const load = async (keepPeers: boolean) => {
    const snapshot = await loadUnit3dSnapshot(config.url, config.timeout);
    state.replace(snapshot, keepPeers, Date.now());
    deps.logger.info({ site: 'unit3d', ...state.counts() }, keepPeers ? 'site state reloaded' : 'site state loaded');
  };
  const control = new Unit3dPushApi(config.api_key, { state, stats, prometheus: deps.prometheus, logger: deps.logger, reload: () => load(true) });
  let timer: NodeJS.Timeout | undefined;
  if (deps.prometheus.getSingleMetric('privtrak_site_state_entries') === undefined) {
    new Gauge({
      name: 'privtrak_site_state_entries', help: 'What the site profile holds in memory: users, torrents, groups, peers.',
      labelNames: ['site', 'kind'], registers: [deps.prometheus],
      collect() {
        for (const [kind, n] of Object.entries(state.counts())) this.labels('unit3d', kind).set(n);
      },
    });
  }

  return {
    name: 'unit3d',
    hook,
    sink: writer,
    control,
    async start() {
      await load(false);
      timer = setInterval(() => {
        const now = Date.now();
        state.peers.sweep(now);
        // The writer reads a peer's extras when its batch is written, well within two lifetimes.
        deps.extras.sweep(now - 2 * deps.peerLifetimeMs);
      }, SWEEP_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
