/**
 * `site: gazelle`: privtrak in Ocelot's place for a Gazelle site (see src/sites/site.ts).
 *
 *   state.ts         users, torrents, tokens, whitelist, interval: in memory, as Ocelot keeps them
 *   loader.ts        the start-up reads (OPS or WhatCD tables); never truncates or zeroes anything
 *   rules-hook.ts    Ocelot's announce rules and credit factors, first among the pre-hooks
 *   control.ts       /{secret}/update (update-actions.ts) and /{report_password}/report (report.ts)
 *   writer.ts        the privtrak hook's sink: Gazelle's tables (absent with readonly: true)
 *
 * Clients announce to /{passkey}/announce and scrape at /{passkey}/scrape (SITE_ROUTES), over
 * HTTP or, with BEP 41 URL data, UDP.
 */
import type { GazelleSiteConfig } from '../config.js';
import type { SiteDeps, SiteProfile } from '../site.js';
import { GazelleState } from './state.js';
import { GazelleStats } from './stats.js';
import { loadGazelle } from './loader.js';
import { GazelleRulesHook } from './rules-hook.js';
import { GazelleReport } from './report.js';
import { GazelleControl } from './control.js';
import { GazelleWriter } from './writer.js';

/** The profile, and its state for those that look inside (tests, staff tooling). */
export interface GazelleSiteProfile extends SiteProfile {
  readonly state: GazelleState;
}

export function createGazelleSite(config: GazelleSiteConfig, deps: SiteDeps): GazelleSiteProfile {
  const state = new GazelleState();
  const stats = new GazelleStats();
  const logger = deps.logger.child({ site: 'gazelle' });
  const hook = new GazelleRulesHook(state, stats, deps.extras, deps.prometheus);
  const report = new GazelleReport(deps.prometheus, deps.store, state, stats);
  const control = new GazelleControl(state, stats, report, logger, {
    secret: config.secret, reportPassword: config.report_password, announceIntervalS: Math.round(deps.announceIntervalMs / 1000),
  });
  const sink = config.readonly ? undefined : new GazelleWriter(config, state, deps);
  let sweep: NodeJS.Timeout | undefined;
  return {
    name: 'gazelle',
    state,
    hook,
    sink,
    control,
    async start() {
      const startedMs = Date.now();
      state.replace(await loadGazelle(config));
      logger.info({
        users: state.userCount, torrents: state.torrentCount, whitelist: state.whitelistSize, schema: config.schema,
        readonly: config.readonly, ms: Date.now() - startedMs,
      }, 'gazelle site loaded');
      // The user agents the rules hook records for the writer: one entry per live peer, swept like the swarm.
      sweep = setInterval(() => deps.extras.sweep(Date.now() - deps.peerLifetimeMs), Math.max(1000, deps.peerLifetimeMs / 4)).unref();
    },
    async stop() {
      if (sweep !== undefined) clearInterval(sweep);
      sweep = undefined;
    },
  };
}
