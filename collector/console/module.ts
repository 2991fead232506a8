/**
 * The web console: static pages at `/` and `/console/…` for officials and operators, and the JSON they
 * need beyond the views API at `/api/v1/console/…`. Built on the views module (liveness, coverage,
 * compliance). See docs/console.md.
 */
import { resolve } from 'node:path';
import { Router } from 'express';
import { agentsOfSchoolReader, migrateRoster } from '../enroll/roster.js';
import type { CollectorModule, ModuleContext } from '../module.js';
import { loadProfiles, type Profile } from '../views/compliance/profile.js';
import type { ViewsModule } from '../views/index.js';
import { consoleApiRouter } from './api/router.js';
import { staticRouter } from './static.js';

export interface ConsoleModuleOptions {
  /** The views module the console reads liveness, coverage and settings from. */
  views: Pick<ViewsModule, 'model' | 'settings'> & Partial<Pick<ViewsModule, 'live'>>;
}

/** The console module. `start()` loads the compliance profiles for the profile picker. */
export function createConsoleModule(ctx: ModuleContext, opts: ConsoleModuleOptions): CollectorModule {
  const log = ctx.log.child({ module: 'console' });
  const settings = opts.views.settings;
  let profiles = new Map<string, Profile>();
  migrateRoster(ctx.state);
  const agentsOf = agentsOfSchoolReader(ctx.state.db);
  const router = Router();
  router.use(
    consoleApiRouter({
      registry: () => opts.views.model().registry,
      model: () => opts.views.model(),
      influx: ctx.influx,
      now: ctx.now,
      queryTimeoutMs: settings.queryTimeoutMs,
      profile: (id) => profiles.get(id ?? settings.defaultProfile),
      profileIds: () => [...profiles.keys()],
      defaultProfile: settings.defaultProfile,
      log,
      live: () => opts.views.live?.(),
      // One read by primary key per school shown (a page: at most 200).
      agentsOf,
    }),
  );
  router.use(staticRouter());
  return {
    name: 'console',
    router,
    async start() {
      profiles = loadProfiles(resolve(settings.complianceProfilesDir));
    },
  };
}
