import { type Response, Router } from 'express';
import { getSecuritySettings, saveSecuritySettings } from '../../data/security-settings';
import { ROLE_LABELS, ROLES } from '../../domain/roles';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { type FieldErrors, str } from '../forms/fields';
import { parseSecuritySettingsForm, type SecuritySettingsValues, securitySettingsValues } from '../forms/security-settings';

/** The account security policy (passwords, freezing, sessions, second factor, supervision, retention), admins only. Mounted at /admin. */
export function securitySettingsRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/securite', requirePermission('admin'));

  const render = async (res: Response, status: number, values?: SecuritySettingsValues, errors: FieldErrors = {}, saved = false) => {
    const settings = await getSecuritySettings(ctx.db);
    res.status(status).render('security/settings', {
      title: 'Politique de sécurité des comptes', values: values ?? securitySettingsValues(settings), errors, saved, ROLES, ROLE_LABELS,
    });
  };

  router.get('/securite', async (req, res) => render(res, 200, undefined, {}, str(req.query.enregistre) === '1'));

  router.post('/securite', async (req, res) => {
    const form = parseSecuritySettingsForm(req.body);
    if (!form.ok) return render(res, 422, form.values, form.errors);
    await saveSecuritySettings(ctx.db, form.data, actor(req), ctx.now());
    res.redirect(303, '/admin/securite?enregistre=1');
  });

  return router;
}
