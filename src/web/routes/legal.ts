import { Router } from 'express';
import { getSecuritySettings } from '../../data/security-settings';
import type { AppContext } from '../context';

/**
 * The pages every footer links to, public (read before signing in): accessibility statement, legal notice,
 * personal data. Their text names the organisation (res.locals.identity) and the retention the admin set.
 */
export function legalRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/accessibilite', (_req, res) => {
    res.render('legal/accessibility', { title: 'Accessibilité' });
  });

  router.get('/mentions-legales', (_req, res) => {
    res.render('legal/notice', { title: 'Mentions légales' });
  });

  router.get('/donnees-personnelles', async (_req, res) => {
    const settings = await getSecuritySettings(ctx.db);
    res.render('legal/personal-data', {
      title: 'Données personnelles',
      auditRetentionMonths: settings.auditRetentionMonths,
      sessionIdleMinutes: settings.sessionIdleMinutes,
      inactiveMonths: settings.inactiveMonths,
    });
  });

  return router;
}
