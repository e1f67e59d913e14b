/**
 * Assembles a tracker from a validated config: storage, the hook chain (user pre-hooks,
 * built-in response hook; built-in swarm hook, user post-hooks), frontends and metrics.
 *
 * Start-up order: access registry loads → storage connects (Redis) → site state loads → hooks start → storage maintenance → frontends listen → metrics (status page, admin API).
 * Shutdown order: frontends stop accepting → hooks stop (and flush) → site → registry → storage → metrics.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { CoarseClock } from './clock.js';
import { TrackerMetrics } from './metrics/metrics.js';
import { startMetricsServer } from './metrics/server.js';
import { createStatusRoutes } from './metrics/status-page.js';
import { StatusLoopDelay, statusMetricsJson } from './metrics/status-metrics.js';
import { HookChain } from './middleware/chain.js';
import { buildHook } from './middleware/hook-factories.js';
import type { HookDeps } from './middleware/hook.js';
import { createResponseHook } from './middleware/response/response-hook.js';
import { createSwarmHook } from './middleware/swarm/swarm-hook.js';
import { createPeerStore, StoreMaintenance } from './storage/index.js';
import type { PeerStore } from './storage/peer-store.js';
import type { Frontend, FrontendDeps } from './frontend/frontend.js';
import { createReadiness } from './frontend/readiness.js';
import { createHttpFrontend } from './frontend/http/server.js';
import { createUdpFrontend } from './frontend/udp/server.js';
import { createAccessRegistry, type AccessRegistry } from './access/index.js';
import { createAdminHandler } from './access/admin-api.js';
import { BuildInfo } from './metrics/build-info.js';
import { createSiteProfile } from './sites/index.js';
import type { SiteProfile } from './sites/site.js';
import { PeerExtras } from './sites/peer-extras.js';

export class Tracker {
  readonly metrics: TrackerMetrics;
  readonly store: PeerStore;
  readonly chain: HookChain;
  /** The access registry (config `registry:`), shared by the access hooks; undefined if not configured. */
  readonly accessRegistry: AccessRegistry | undefined;
  /** The site privtrak stands in for (config `site:`), undefined if none. */
  readonly site: SiteProfile | undefined;
  /** privtrak_build_info, and the run-time choices (HTTP transport, journal I/O) logged as they are made. */
  readonly buildInfo: BuildInfo;
  private readonly clock = new CoarseClock();
  private readonly maintenance: StoreMaintenance;
  private readonly frontends: Frontend[] = [];
  private metricsServer: Server | undefined;
  /** The status page's event-loop delay (status-metrics.ts); a worker's is read by the primary over IPC. */
  readonly statusLoopDelay = new StatusLoopDelay();

  /**
   * `metricsListener: false`: metrics_addr is not served by this tracker (a `serve --workers N`
   * worker: the primary serves it for all workers, src/cli/workers/cluster-metrics.ts).
   */
  constructor(readonly config: Config, readonly logger: Logger, private readonly options: { defaultMetrics?: boolean; metricsListener?: boolean } = {}) {
    this.metrics = new TrackerMetrics(options);
    this.buildInfo = new BuildInfo(this.metrics.prometheus, logger);
    this.store = createPeerStore(config.storage, this.clock, logger);
    this.accessRegistry = config.registry === undefined ? undefined : createAccessRegistry(config.registry, { logger, prometheus: this.metrics.prometheus });
    this.site = config.site === undefined ? undefined : createSiteProfile(config.site, {
      logger, prometheus: this.metrics.prometheus, store: this.store, announceIntervalMs: config.announce_interval,
      peerLifetimeMs: config.storage.config.peer_lifetime, extras: new PeerExtras(),
    });
    const deps: HookDeps = {
      store: this.store, logger, prometheus: this.metrics.prometheus, announceIntervalMs: config.announce_interval, accessRegistry: this.accessRegistry,
      buildInfo: this.buildInfo, userKeySecretPath: config.user_key_secret, siteSink: this.site?.sink,
    };
    // The site's announce rules come first: later hooks (privtrak among them) read the user and torrent they set.
    const pre = [
      ...(this.site === undefined ? [] : [this.site.hook]),
      ...config.prehooks.map((h, i) => buildHook(h.name, h.options, deps, `prehooks.${i}`)),
    ];
    const post = config.posthooks.map((h, i) => buildHook(h.name, h.options, deps, `posthooks.${i}`));
    this.chain = new HookChain([...pre, createResponseHook(this.store)], [createSwarmHook(this.store), ...post], {
      announceInterval: Math.round(config.announce_interval / 1000),
      minAnnounceInterval: Math.round(config.min_announce_interval / 1000),
    });
    this.maintenance = new StoreMaintenance(this.store, config.storage.config, this.metrics, logger);
    const readiness = createReadiness({ hooks: [...this.chain.preHooks, ...this.chain.postHooks], registry: this.accessRegistry });
    const fdeps: FrontendDeps = { chain: this.chain, metrics: this.metrics, logger, clock: this.clock, control: this.site?.control, readiness };
    if (config.http.addr !== '') {
      const http = createHttpFrontend(config.http, fdeps);
      this.buildInfo.note('transport', http.transport, http.transportReason, http.transportFallback);
      this.frontends.push(http);
    }
    if (config.udp.addr !== '') this.frontends.push(createUdpFrontend(config.udp, config.http.announce_routes, fdeps));
  }

  async start(): Promise<void> {
    // Without its users and torrents a private tracker would refuse everyone: a failed first load stops the start.
    await this.accessRegistry?.start();
    try {
      await this.store.start?.();
      await this.site?.start();
      await this.chain.start();
    } catch (err) {
      await this.site?.stop().catch(() => undefined);
      await this.store.stop().catch(() => undefined);
      await this.accessRegistry?.stop().catch(() => undefined);
      throw err;
    }
    this.maintenance.start();
    try {
      for (const f of this.frontends) {
        await f.listen();
        this.logger.info({ frontend: f.name, host: f.boundHost, port: f.port() }, 'listening');
      }
      if (this.config.metrics_addr !== '' && this.options.metricsListener !== false) {
        const token = this.config.registry?.admin_token ?? '';
        const admin = this.accessRegistry !== undefined && token !== '' ? createAdminHandler(this.accessRegistry, token, this.logger) : undefined;
        const status = createStatusRoutes({ read: () => statusMetricsJson(this.metrics.prometheus, this.statusLoopDelay), config: this.config, token });
        this.metricsServer = await startMetricsServer(this.config.metrics_addr, this.metrics.prometheus, admin === undefined ? [status] : [status, admin]);
        this.logger.info({ addr: this.config.metrics_addr }, 'metrics listening');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** The bound port of a frontend ('http' | 'udp'), or of the metrics listener. */
  port(name: 'http' | 'udp' | 'metrics'): number {
    if (name === 'metrics') {
      const a = this.metricsServer?.address();
      return typeof a === 'object' && a !== null ? a.port : 0;
    }
    return this.frontends.find((f) => f.name === name)?.port() ?? 0;
  }

  /** Stops accepting, stops every hook (each may flush), then storage. Resolves with errors met on the way. */
  async stop(): Promise<Error[]> {
    const errors: Error[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        this.logger.error({ err }, `${what} failed during shutdown`);
        errors.push(err as Error);
      }
    };
    for (const f of this.frontends) await attempt(`closing ${f.name}`, () => f.close());
    errors.push(...(await this.chain.stop()));
    if (this.site) await attempt('stopping the site profile', () => this.site!.stop());
    if (this.accessRegistry) await attempt('stopping the access registry', () => this.accessRegistry!.stop());
    this.maintenance.stop();
    await attempt('stopping storage', () => this.store.stop());
    if (this.metricsServer) {
      const server = this.metricsServer;
      this.metricsServer = undefined;
      server.closeAllConnections();
      await attempt('closing metrics', () => new Promise<void>((resolve) => server.close(() => resolve())));
    }
    this.statusLoopDelay.stop();
    this.clock.stop();
    return errors;
  }
}
