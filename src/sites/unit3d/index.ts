/** The unit3d site profile (to be built: see src/sites/site.ts for the contract). */
import type { Unit3dSiteConfig } from '../config.js';
import type { SiteDeps, SiteProfile } from '../site.js';

export function createUnit3dSite(_config: Unit3dSiteConfig, _deps: SiteDeps): SiteProfile {
  throw new Error('site: unit3d is not built yet');
}
