/**
 * What `GET /ready` on the HTTP listener answers (frontend/http/server.ts): whether this process
 * is ready to count announces. Not ready while the access registry has not loaded (when one is
 * configured) or while a hook says it cannot work (Hook.notReady: the privtrak hook when its sink
 * is unreachable and pending deltas reached max_pending, or its journal failed a write in the last 5 s). `GET /health` only says the process
 * serves, and needs nothing from here.
 *
 * A probe runs every few seconds per load balancer: it reads state the tracker already keeps (no
 * database round trip) and allocates nothing while ready. The reason is operator text (counts,
 * limits), never a passkey or a user.
 */
import type { Hook } from '../middleware/hook.js';

/** Undefined when ready, else a short reason (one line, no user data). */
export type Readiness = () => string | undefined;

/** What readiness looks at: the hooks (those with notReady) and the access registry, if configured. */
export interface ReadinessParts {
  readonly hooks: readonly Hook[];
  /** The registry's time of its last successful load (0: never loaded). */
  readonly registry?: { readonly lastSuccessMs: number };
}

export function createReadiness(parts: ReadinessParts): Readiness {
  const checks = parts.hooks.filter((h) => h.notReady !== undefined);
  const registry = parts.registry;
  return () => {
    if (registry !== undefined && registry.lastSuccessMs === 0) return 'access registry not loaded';
    for (const h of checks) {
      const why = h.notReady!();
      if (why !== undefined) return `${h.name}: ${why}`;
    }
    return undefined;
  };
}
