import { Router } from 'express';
import { setupChecklist } from '../../services/setup';
import { requirePermission } from '../auth';
import type { AppContext } from '../context';

/**
 * /admin/mise-en-route, the first administrator's set-up checklist; and, on the homologations home page, the
 * checklist's state for an administrator (the page shows a notice while the set-up is incomplete).
 */
export function setupRouter(ctx: AppContext): Router {
  const router = Router();
  router.get('/admin/mise-en-route', requirePermission('admin'), async (_req, res) => {
    res.render('setup/checklist', { title: 'Mise en route', checklist: await setupChecklist(ctx.db) });
  });
  router.get('/homologations', async (req, res, next) => {
    if (req.user?.role === 'admin') res.locals.setup = await setupChecklist(ctx.db);
    next();
  });
  return router;
}
