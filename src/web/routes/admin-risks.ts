import { type Request, type Response, Router } from 'express';
import { allRiskLevels, getRiskScales, saveRiskScales } from '../../data/risks';
import { type CriticalityChange, criticalityChanges, levelsOutOfScales, MAX_LEVELS, MIN_LEVELS, normaliseScales, validateScales } from '../../domain/risks';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { type FieldErrors, str } from '../forms/fields';
import { readScalesForm, type ScalesFormValues, scalesOfForm, scalesToValues } from '../forms/risk';
import { notify } from '../notice';

const CONFLICT = "Les échelles ont été modifiées par quelqu'un d'autre depuis que vous avez ouvert cette page : rien n'a été enregistré. " +
  'Vos choix restent affichés ; rechargez la page dans un autre onglet pour voir les échelles actuelles, puis enregistrez à nouveau.';

/** The organisation's risk scales and criticality matrix (admins only). Mounted at /admin. */
export function adminRisksRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/risques', requirePermission('admin'));

  interface View { values: ScalesFormValues; errors?: FieldErrors; changes?: CriticalityChange[]; alert?: string; preview?: boolean }
  const render = (res: Response, status: number, v: View) => {
    const nl = v.values.likelihood.length;
    res.status(status).render('admin/risks', {
      title: 'Échelles et matrice des risques', values: v.values, errors: v.errors ?? {}, changes: v.changes ?? [], alert: v.alert ?? null,
      preview: v.preview ?? false, MIN_LEVELS, MAX_LEVELS, likelihoodRanks: Array.from({ length: nl }, (_, i) => nl - i),
    });
  };

  router.get('/risques', async (_req, res) => render(res, 200, { values: scalesToValues(await getRiskScales(ctx.db)) }));

  router.post('/risques', async (req: Request, res: Response) => {
    const values = readScalesForm(req.body);
    const action = str(req.body._action);
    // "Mettre à jour le tableau" (new counts) or "Revenir au formulaire" (after a preview): the form again, nothing saved
    if (action === 'resize' || action === 'edit') return render(res, 200, { values });
    const { scales: typed, errors: countErrors } = scalesOfForm(values);
    const scales = normaliseScales(typed);
    const errors = { ...countErrors, ...validateScales(scales) };
    const version = /^\d{1,9}$/.test(values.version) ? Number(values.version) : 0;
    const current = await getRiskScales(ctx.db);
    // saved by someone else since this form was opened: said before any preview, which would compare with their scales
    if (version !== current.version) return render(res, 409, { values, alert: CONFLICT });
    const risks = await allRiskLevels(ctx.db);
    const outside = levelsOutOfScales(risks, scales);
    if (outside.length) errors.likelihoodCount ??= outOfScalesMessage(outside.length, outside.map((r) => `n°${r.number} « ${r.title} »`).slice(0, 5).join(', '));
    if (Object.keys(errors).length) return render(res, 422, { values, errors });
    const changes = criticalityChanges(risks, current, scales);
    if (changes.length && str(req.body.confirm) !== '1') return render(res, 200, { values, changes, preview: true });
    const saved = await saveRiskScales(ctx.db, scales, version, actor(req), ctx.now());
    if (!saved.ok) {
      if (saved.reason === 'conflict') return render(res, 409, { values, alert: CONFLICT });
      return render(res, 422, { values, errors: { likelihoodCount: outOfScalesMessage(saved.risks.length, saved.risks.map((r) => `n°${r.number}`).join(', ')) } });
    }
    notify(req, changes.length
      ? `Les échelles et la matrice sont enregistrées ; la criticité de ${changes.length > 1 ? `${changes.length} niveaux de risques a changé` : "un niveau de risque a changé"}.`
      : 'Les échelles et la matrice des risques sont enregistrées.');
    res.redirect(303, '/admin/risques');
  });

  return router;
}

function outOfScalesMessage(count: number, which: string): string {
  return `${count > 1 ? `${count} risques ont` : 'Un risque a'} un niveau que ces échelles n'auraient plus (${which}) : ` +
    'modifiez leurs niveaux avant de retirer des niveaux des échelles.';
}
