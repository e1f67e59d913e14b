/**
 * Built-in last pre-hook: fills the response's peers and counts from storage
 * (chihaya's responseHook). A stopping peer is given no peers. The counts include the announcer
 * as its announce leaves it (the swarm hook applies the announce only after the reply).
 */
import type { AnnounceRequest, AnnounceResponse, Peer, ScrapeCounts, ScrapeRequest, ScrapeResponse } from '../../bittorrent/types.js';
import { isSeeder, roleAfter } from '../../bittorrent/types.js';
import type { PeerStore } from '../../storage/peer-store.js';
import { isPromise, type Hook, type MaybePromise } from '../hook.js';
import type { RequestContext } from '../context.js';

function fill(req: AnnounceRequest, resp: AnnounceResponse, peers: Peer[], counts: ScrapeCounts): void {
  if (req.peer.family === 4) resp.ipv4Peers = peers;
  else resp.ipv6Peers = peers;
  resp.complete = counts.complete;
  resp.incomplete = counts.incomplete;
}

const NO_PEERS: Peer[] = [];

export function createResponseHook(store: PeerStore): Hook {
  return {
    name: 'response',
    handleAnnounce(_ctx: RequestContext, req: AnnounceRequest, resp: AnnounceResponse): MaybePromise {
      const wantPeers = req.event !== 'stopped' && req.numWant > 0;
      const peers = wantPeers ? store.announcePeers(req.infoHash, isSeeder(req), req.numWant, req.peer) : NO_PEERS;
      const counts = store.announceCounts(req.infoHash, req.peer, roleAfter(req));
      if (!isPromise(peers) && !isPromise(counts)) {
        fill(req, resp, peers, counts);
        return undefined;
      }
      return Promise.all([peers, counts]).then(([p, c]) => fill(req, resp, p, c));
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
