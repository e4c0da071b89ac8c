import { Router } from 'express';
import { z } from 'zod';
import { currentPlan, updatePlan } from '../../data/plans';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { fieldErrors, optionalText, requiredText, str } from '../forms/fields';

const planSchema = z.object({
  title: requiredText(200, "Saisissez l'intitulé du plan."),
  organisation: requiredText(200, 'Saisissez le nom de la collectivité qui porte le plan.'),
  reminder: optionalText(2000),
});

/** The plan's own fields (title, organisation, reminder to the communes), edited by an administrator. */
export function planSettingsRouter(ctx: AppContext): Router {
  const router = Router();
  router.use(requirePermission('admin'));
  router.get('/', async (_req, res) => {
    const plan = await currentPlan(ctx.db);
    res.render('admin/plan', { title: 'Le plan', values: plan, errors: {} });
  });
  router.post('/', async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const values = { title: str(body.title), organisation: str(body.organisation), reminder: str(body.reminder) };
    const parsed = planSchema.safeParse(values);
    if (!parsed.success) return res.status(422).render('admin/plan', { title: 'Le plan', values, errors: fieldErrors(parsed.error) });
    const plan = await currentPlan(ctx.db);
    await updatePlan(ctx.db, plan.id, parsed.data, actor(req), ctx.now());
    res.redirect(303, '/plan');
  });
  return router;
}
