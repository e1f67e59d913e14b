/**
 * Built-in last pre-hook: fills the response's peers and counts from storage
 * (chihaya's responseHook). A stopping peer is given no peers. The counts include the announcer
 * as its announce leaves it (the swarm hook applies the announce only after the reply).
 * In shared mode the view comes with the announce's atomic step (ctx.swarmView) and is used as is.
 */
import type { AnnounceRequest, AnnounceResponse, ScrapeCounts, ScrapeRequest, ScrapeResponse } from '../../bittorrent/types.js';
import { roleAfter } from '../../bittorrent/types.js';
import type { AnnounceView, PeerStore } from '../../storage/peer-store.js';
import { isPromise, type Hook, type MaybePromise } from '../hook.js';
import type { RequestContext } from '../context.js';

function fill(req: AnnounceRequest, resp: AnnounceResponse, view: AnnounceView): void {
  if (req.peer.family === 4) resp.ipv4Peers = view.peers;
  else resp.ipv6Peers = view.peers;
  resp.complete = view.complete;
  resp.incomplete = view.incomplete;
}

export function createResponseHook(store: PeerStore): Hook {
  return {
    name: 'response',
    handleAnnounce(ctx: RequestContext, req: AnnounceRequest, resp: AnnounceResponse): MaybePromise {
      // Shared mode: the privtrak hook read the view in the step that counted the announce (context.ts).
      if (ctx.swarmView !== undefined) {
        fill(req, resp, ctx.swarmView);
        return undefined;
      }
      const view = store.announceView(req.infoHash, req.peer, roleAfter(req), req.numWant);
      if (!isPromise(view)) {
        fill(req, resp, view);
        return undefined;
      }
      return view.then((v) => fill(req, resp, v));
    },
    handleScrape(_ctx: RequestContext, req: ScrapeRequest, resp: ScrapeResponse): MaybePromise {
      const results = req.infoHashes.map((ih) => store.scrapeSwarm(ih));
      if (!results.some(isPromise)) {
        resp.files = req.infoHashes.map((infoHash, i) => ({ infoHash, counts: results[i] as ScrapeCounts }));
        return undefined;
      }
      return Promise.all(results).then((counts) => {
        resp.files = req.infoHashes.map((infoHash, i) => ({ infoHash, counts: counts[i]! }));
      });
    },
  };
}
