import { format } from 'date-fns';
import { Router } from 'express';
import { listFiches } from '../../data/fiches';
import { listSignatures } from '../../data/meetings';
import { currentPlan } from '../../data/plans';
import { communes, instances, milestones } from '../../data/referentials';
import { isLate } from '../../domain/fiche';
import { perimeterLines } from '../../domain/perimeter';
import { can, communeRestriction } from '../../domain/roles';
import { actor } from '../auth';
import type { AppContext } from '../context';

export function planRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/plan', async (req, res) => {
    const user = actor(req);
    const restriction = communeRestriction(user);
    const plan = await currentPlan(ctx.db);
    const [fiches, instanceList, communeList, milestoneList, signatures] = await Promise.all([
      listFiches(ctx.db, plan.id, restriction),
      restriction === null ? instances.list(ctx.db) : instances.listWhere(ctx.db, 'commune_id', restriction),
      restriction === null ? communes.list(ctx.db) : communes.get(ctx.db, restriction).then((c) => (c ? [c] : [])),
      milestones.listWhere(ctx.db, 'plan_id', plan.id),
      listSignatures(ctx.db, plan.id),
    ]);
    const today = format(ctx.now(), 'yyyy-MM-dd');
    const communesWithInstances = new Set(instanceList.map((i) => i.communeId));
    res.render('plan/index', {
      title: plan.title,
      plan,
      restricted: restriction !== null,
      perimeter: perimeterLines(instanceList),
      instanceCount: instanceList.length,
      communes: communeList.filter((c) => communesWithInstances.has(c.id)).sort((a, b) => a.name.localeCompare(b.name, 'fr')),
      done: milestoneList.filter((m) => m.done),
      toDo: milestoneList.filter((m) => !m.done),
      fiches: fiches.map((f) => ({ ...f, late: isLate(f, today) })),
      canEdit: can(user, 'fiche:edit'),
      signatures,
    });
  });

  return router;
}
