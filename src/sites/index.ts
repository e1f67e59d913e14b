/** The site profiles (config `site: {name: …}`): one folder each, one line here. */
import type { SiteConfig } from './config.js';
import type { SiteDeps, SiteProfile } from './site.js';
import { createUnit3dSite } from './unit3d/index.js';
import { createGazelleSite } from './gazelle/index.js';

export function createSiteProfile(config: SiteConfig, deps: SiteDeps): SiteProfile {
  switch (config.name) {
    case 'unit3d':
      return createUnit3dSite(config, deps);
    case 'gazelle':
      return createGazelleSite(config, deps);
  }
}
