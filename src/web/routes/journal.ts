import { Router } from 'express';
import { listAudit } from '../../data/audit';
import { auditChanges } from '../../domain/audit';
import { requirePermission } from '../auth';
import type { AppContext } from '../context';
import { str } from '../forms/fields';

/** The audit journal (admins only): every change and every security event. Mounted at /admin. */
export function journalRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/journal', requirePermission('admin'));
  router.get('/journal', async (req, res) => {
    const page = Math.max(1, Math.floor(Number(str(req.query.page))) || 1);
    const entries = await listAudit(ctx.db, { limit: 100, offset: (page - 1) * 100 });
    res.render('admin/journal', { title: "Journal d'audit", entries: entries.map((e) => ({ ...e, changes: auditChanges(e.before, e.after) })), page });
  });
  return router;
}
