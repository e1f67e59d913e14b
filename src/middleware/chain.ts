/**
 * The hook chain (chihaya's middleware.Logic): pre-hooks → response written → post-hooks.
 * Sync hooks run without allocating promises; the first hook that returns a Promise switches
 * the rest of the run to async. The built-in response hook is the last pre-hook and the
 * built-in swarm hook the last post-hook, as in chihaya.
 */
import type { AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse } from '../bittorrent/types.js';
import { NO_PEERS } from '../bittorrent/peer-list.js';
import type { Hook } from './hook.js';
import type { RequestContext } from './context.js';

export interface ChainOptions {
  readonly announceInterval: number;
  readonly minAnnounceInterval: number;
}

type Step<Req, Resp> = (hook: Hook, ctx: RequestContext, req: Req, resp: Resp) => void | Promise<void>;

const announceStep: Step<AnnounceRequest, AnnounceResponse> = (h, c, q, r) => h.handleAnnounce(c, q, r);
const scrapeStep: Step<ScrapeRequest, ScrapeResponse> = (h, c, q, r) => h.handleScrape(c, q, r);

/**
 * Runs hooks from `start`; returns `resp` itself when every hook was synchronous, else a Promise
 * of it (so callers need no second `.then` to get the response: one promise per async hook).
 */
function runFrom<Req, Resp>(
  hooks: readonly Hook[], start: number, step: Step<Req, Resp>, ctx: RequestContext, req: Req, resp: Resp,
): Resp | Promise<Resp> {
  for (let i = start; i < hooks.length; i++) {
    const result = step(hooks[i]!, ctx, req, resp);
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      return (result as Promise<void>).then(() => runFrom(hooks, i + 1, step, ctx, req, resp));
    }
  }
  return resp;
}

function settled<Resp>(r: Resp | Promise<Resp>): void | Promise<void> {
  return r instanceof Promise ? (r as Promise<unknown>).then(noop) : undefined;
}

function noop(): void {}

export class HookChain {
  readonly preHooks: readonly Hook[];
  readonly postHooks: readonly Hook[];
  private readonly options: ChainOptions;

  constructor(preHooks: readonly Hook[], postHooks: readonly Hook[], options: ChainOptions) {
    this.preHooks = preHooks;
    this.postHooks = postHooks;
    this.options = options;
  }

  /** Runs the pre-hooks. Returns the response, or a Promise of it if any hook was async. Throws/rejects on refusal. */
  announce(ctx: RequestContext, req: AnnounceRequest): AnnounceResponse | Promise<AnnounceResponse> {
    const resp: AnnounceResponse = {
      interval: this.options.announceInterval,
      minInterval: this.options.minAnnounceInterval,
      complete: 0,
      incomplete: 0,
      ipv4Peers: NO_PEERS,
      ipv6Peers: NO_PEERS,
    };
    return runFrom(this.preHooks, 0, announceStep, ctx, req, resp);
  }

  /** Runs the post-hooks after the response was written. */
  afterAnnounce(ctx: RequestContext, req: AnnounceRequest, resp: AnnounceResponse): void | Promise<void> {
    return settled(runFrom(this.postHooks, 0, announceStep, ctx, req, resp));
  }

  scrape(ctx: RequestContext, req: ScrapeRequest): ScrapeResponse | Promise<ScrapeResponse> {
    const resp: ScrapeResponse = { files: [] };
    return runFrom(this.preHooks, 0, scrapeStep, ctx, req, resp);
  }

  afterScrape(ctx: RequestContext, req: ScrapeRequest, resp: ScrapeResponse): void | Promise<void> {
    return settled(runFrom(this.postHooks, 0, scrapeStep, ctx, req, resp));
  }

  /** Starts every hook in order; if one fails, stops those already started. */
  async start(): Promise<void> {
    const started: Hook[] = [];
    for (const hook of [...this.preHooks, ...this.postHooks]) {
      try {
        await hook.start?.();
        started.push(hook);
      } catch (err) {
        for (const h of started.reverse()) await h.stop?.().catch(() => undefined);
        throw err;
      }
    }
  }

  /** Stops every hook (each may flush), in reverse order; collects errors instead of stopping at the first. */
  async stop(): Promise<Error[]> {
    const errors: Error[] = [];
    for (const hook of [...this.preHooks, ...this.postHooks].reverse()) {
      try {
        await hook.stop?.();
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return errors;
  }
}

