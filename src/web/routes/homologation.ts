import { Router } from 'express';
import type { AppContext } from '../context';
import { resolveScope } from '../scope';
import { dashboardRouter } from './dashboard';
import { fichesRouter } from './fiches';
import { meetingsRouter } from './meetings';
import { planRouter } from './plan';

/**
 * Everything under /homologations/:hid: the scope is resolved and checked once, then the homologation's pages.
 * `extra` routers (settings, members, renewal…) are mounted after the scope too.
 */
export function homologationRouter(ctx: AppContext, ...extra: Router[]): Router {
  const router = Router({ mergeParams: true });
  router.use(resolveScope(ctx, ['/renouveler']));
  router.use(planRouter(ctx));
  router.use(dashboardRouter(ctx));
  router.use(fichesRouter(ctx));
  router.use(meetingsRouter(ctx));
  for (const r of extra) router.use(r);
  return router;
}
