import { Router } from 'express';
import type { AppContext } from '../context';
import { resolveScope } from '../scope';
import { dashboardRouter } from './dashboard';
import { evidenceRouter } from './evidence';
import { fichesRouter } from './fiches';
import { meetingsRouter } from './meetings';
import { planRouter } from './plan';
import { planImportRouter } from './plan-import';
import { planExportRouter } from './plan-export';
import { risksRouter } from './risks';
import { rolloutRouter } from './rollout';
import { bulkRouter } from './bulk';
import { communeAnswersRouter } from './commune-answers';

/**
 * The writes still allowed on an archived or expired homologation: preparing its renewal, and acknowledging its
 * expiry reminders. Patterns, since a path may carry an id; resolveScope is handed the path itself when it matches.
 */
export const WRITABLE_WHEN_READ_ONLY: readonly (string | RegExp)[] = ['/renouveler', '/archiver', '/supprimer', /^\/rappels\/\d+\/acquitter$/];

export function writableWhenReadOnly(path: string, patterns: readonly (string | RegExp)[] = WRITABLE_WHEN_READ_ONLY): boolean {
  return patterns.some((p) => (typeof p === 'string' ? p === path : p.test(path)));
}

/**
 * Everything under /homologations/:hid: the scope is resolved and checked once, then the homologation's pages.
 * `extra` routers (settings, members, renewal…) are mounted after the scope too.
 */
export function homologationRouter(ctx: AppContext, ...extra: Router[]): Router {
  const router = Router({ mergeParams: true });
  router.use((req, res, next) => resolveScope(ctx, writableWhenReadOnly(req.path) ? [req.path] : [])(req, res, next));
  router.use(planRouter(ctx));
  router.use(dashboardRouter(ctx));
  router.use(fichesRouter(ctx));
  router.use(rolloutRouter(ctx));
  router.use(bulkRouter(ctx));
  router.use(communeAnswersRouter(ctx));
  router.use(meetingsRouter(ctx));
  router.use(risksRouter(ctx));
  router.use(evidenceRouter(ctx));
  // the export first: it serves the import's template (/import/modele.xlsx), which the import's /import/:id would take
  router.use(planExportRouter(ctx));
  router.use(planImportRouter(ctx));
  for (const r of extra) router.use(r);
  return router;
}
