import { Router } from 'express';
import { requirePermission } from '../auth';
import type { AppContext } from '../context';

/** Supervision of accounts (seed 003's dashboards), admins only. Mounted at /admin. */
export function supervisionRouter(_ctx: AppContext): Router {
  const router = Router();
  router.use('/supervision', requirePermission('admin'));
  return router;
}
