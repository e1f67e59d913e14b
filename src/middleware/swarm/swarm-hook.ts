/**
 * Built-in last post-hook: records the announcer in the swarm (chihaya's
 * swarmInteractionHook). Runs after the response is written, so the announcer never
 * receives itself and a slow store does not delay the reply.
 */
import { roleAfter, type AnnounceRequest } from '../../bittorrent/types.js';
import type { PeerStore } from '../../storage/peer-store.js';
import type { Hook, MaybePromise } from '../hook.js';

export function createSwarmHook(store: PeerStore): Hook {
  return {
    name: 'swarm',
    handleAnnounce(ctx, req: AnnounceRequest): MaybePromise {
      // Shared mode: the privtrak hook's atomic step already changed the swarm (context.ts swarmView).
      if (ctx.swarmView !== undefined) return undefined;
      let result;
      const role = roleAfter(req);
      // A hidden peer (a site's rule, context.ts) is served but never handed out: it stays out of the swarm.
      if (ctx.hidden === true && role !== 'gone') result = req.left === 0 ? store.deleteSeeder(req.infoHash, req.peer) : store.deleteLeecher(req.infoHash, req.peer);
      else if (role === 'gone') result = req.left === 0 ? store.deleteSeeder(req.infoHash, req.peer) : store.deleteLeecher(req.infoHash, req.peer);
      else if (req.event === 'completed') result = store.graduateLeecher(req.infoHash, req.peer);
      else result = role === 'seeder' ? store.putSeeder(req.infoHash, req.peer) : store.putLeecher(req.infoHash, req.peer);
      return result as MaybePromise;
    },
    handleScrape(): MaybePromise {
      return undefined;
    },
  };
}
