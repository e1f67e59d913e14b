/**
 * The hook interface: the one seam every piece of tracker logic plugs into (after chihaya's
 * middleware.Hook). A hook handles announces and scrapes; it may be synchronous (returns
 * nothing) or asynchronous (returns a Promise) — the chain only awaits when it must.
 *
 * Pre-hooks run before the response is written and may refuse a request by throwing a
 * ClientError (its message becomes the HTTP `failure reason` / UDP error). Post-hooks run
 * after the response is written; their errors are logged, never sent.
 */
import type { Logger } from 'pino';
import type { Registry as PrometheusRegistry } from 'prom-client';
import type { AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse } from '../bittorrent/types.js';
import type { PeerStore } from '../storage/peer-store.js';
import type { AccessRegistry } from '../access/registry.js';
import type { RequestContext } from './context.js';
import type { BuildInfo } from '../metrics/build-info.js';
import type { DeltaSink } from '../sinks/sink.js';

export type MaybePromise = void | Promise<void>;

export interface Hook {
  /** The name it is registered under (used in logs and metrics). */
  readonly name: string;
  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, resp: AnnounceResponse): MaybePromise;
  handleScrape(ctx: RequestContext, req: ScrapeRequest, resp: ScrapeResponse): MaybePromise;
  /** Called once before the frontends start accepting. */
  start?(): Promise<void>;
  /** Called once at shutdown, after the frontends stopped accepting: flush here. */
  stop?(): Promise<void>;
  /**
   * Why this hook cannot do its work now (`GET /ready` says it, with a 503), or undefined when it
   * can. Called per readiness probe: read state the hook already keeps, no I/O. Never user data.
   */
  notReady?(): string | undefined;
}

/** What every hook factory is given (hook-factories.ts): the tracker's shared parts. */
export interface HookDeps {
  readonly store: PeerStore;
  readonly logger: Logger;
  /** The tracker's Prometheus registry: hooks register their metrics here. */
  readonly prometheus: PrometheusRegistry;
  readonly announceIntervalMs: number;
  /** The tracker's one access registry (config `registry:`), shared by the hooks that need it; absent if not configured. */
  readonly accessRegistry?: AccessRegistry;
  /** The user-key secret's file (config `user_key_secret`), which the privtrak hook reads or creates at start. */
  readonly userKeySecretPath?: string;
  /** Where a hook reports a run-time choice (the privtrak hook: its journal I/O); absent in unit tests. */
  readonly buildInfo?: BuildInfo;
  /** The configured site's sink (config `site:`, src/sites/): the privtrak hook writes the site's tables through it. */
  readonly siteSink?: DeltaSink;
}

/** Whether a hook (or the chain) answered asynchronously. */
export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function';
}
