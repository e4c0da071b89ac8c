import { Router } from 'express';
import { requirePermission } from '../auth';

/**
 * The one-plan settings page is gone: each homologation has its own (/homologations/:id/parametres). Its old address
 * leads administrators to the list of homologations, where they pick the one to set.
 */
export function planSettingsRouter(): Router {
  const router = Router();
  router.get('/', requirePermission('admin'), (_req, res) => res.redirect(301, '/homologations'));
  return router;
}
