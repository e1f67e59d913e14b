/** The gazelle site profile (to be built: see src/sites/site.ts for the contract). */
import type { GazelleSiteConfig } from '../config.js';
import type { SiteDeps, SiteProfile } from '../site.js';

export function createGazelleSite(_config: GazelleSiteConfig, _deps: SiteDeps): SiteProfile {
  throw new Error('site: gazelle is not built yet');
}
