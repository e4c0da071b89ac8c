import { Router } from 'express';
import { requirePermission } from '../auth';
import type { AppContext } from '../context';
import { adminAccountsRouter } from './admin-accounts';
import { ADMIN_TABLES, adminReferencesRouter } from './admin-references';

/** /admin: the index, the Métropole's accounts and the reference tables, for administrators only. */
export function adminRouter(ctx: AppContext): Router {
  const router = Router();
  router.use(requirePermission('admin'));

  router.get('/', (_req, res) => {
    res.render('admin/index', { title: 'Administration', entities: [...ADMIN_TABLES, { slug: 'utilisateurs', title: 'Utilisateurs' }] });
  });
  router.use(adminAccountsRouter(ctx));
  router.use(adminReferencesRouter(ctx));
  return router;
}
