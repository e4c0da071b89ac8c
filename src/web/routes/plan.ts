import { format } from 'date-fns';
import { Router } from 'express';
import { listFiches } from '../../data/fiches';
import { rolloutSummaries } from '../../data/rollout';
import { listSignatures } from '../../data/meetings';
import { communes, environmentList, instancesOfPlan, milestones } from '../../data/referentials';
import { decisionConditions, holdings } from '../../data/lifecycle';
import { isLate, ownersSummary } from '../../domain/fiche';
import { defaultRenewalTitle, lateConditions, lifecycleOf } from '../../domain/lifecycle';
import { perimeterTable } from '../../domain/perimeter';
import { OUTCOME_LABELS, STATE_BADGES, STATE_LABELS, validityPhrase } from '../../domain/homologation';
import { lifecycleActions } from '../../services/homologations';
import { actor } from '../auth';
import { evidenceOfPage } from './evidence';
import { openReminders, thresholdText } from '../../data/expiry-reminders';
import type { AppContext } from '../context';
import { scopeOf } from '../scope';
import { withAcceptedRisks } from '../../services/risk-committee';

/** The homologation's own page: its state, decision, perimeter and fiches (formerly /plan). */
export function planRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const scope = scopeOf(res);
    const { restriction, hom: plan } = scope;
    const admin = actor(req).role === 'admin';
    const [fiches, instanceList, communeList, milestoneList, signatures, conditions, held, reminders, environments] = await Promise.all([
      listFiches(ctx.db, plan.id, restriction),
      instancesOfPlan(ctx.db, plan.id, restriction),
      restriction === null ? communes.list(ctx.db) : communes.get(ctx.db, restriction).then((c) => (c ? [c] : [])),
      milestones.listWhere(ctx.db, 'plan_id', plan.id),
      listSignatures(ctx.db, plan.id),
      decisionConditions(ctx.db, plan.id, restriction),
      admin ? holdings(ctx.db, plan.id) : Promise.resolve(null),
      // expiry reminders are the Métropole's business, like late-fiche alerts
      restriction === null ? openReminders(ctx.db, plan.id) : Promise.resolve([]),
      environmentList(ctx.db),
    ]);
    const today = format(ctx.now(), 'yyyy-MM-dd');
    // the fiches followed per instance: done of total (a commune's staff, on their own instances)
    const rollouts = await rolloutSummaries(ctx.db, fiches.map((f) => f.id), environments, restriction);
    const lifecycle = lifecycleOf(plan, today, scope.reminderMonths);
    const communesWithInstances = new Set(instanceList.map((i) => i.communeId));
    res.render('plan/index', {
      // a commune's staff do not get the decision's documents (they may hold its full text)
      ...(await evidenceOfPage(ctx, plan.id, { decision: restriction === null ? signatures.map((sig) => sig.id) : [] })),
      title: plan.title,
      plan,
      restricted: restriction !== null,
      // one column per environment present, in the organisation's order
      perimeter: perimeterTable(instanceList, environments),
      instanceCount: instanceList.length,
      communes: communeList.filter((c) => communesWithInstances.has(c.id)).sort((a, b) => a.name.localeCompare(b.name, 'fr')),
      done: milestoneList.filter((m) => m.done),
      toDo: milestoneList.filter((m) => !m.done),
      fiches: fiches.map((f) => ({ ...f, late: isLate(f, today), rollout: rollouts.get(f.id) ?? null })),
      canEdit: scope.canEdit,
      scope,
      stateLabel: STATE_LABELS[scope.state], stateBadge: STATE_BADGES[scope.state], OUTCOME_LABELS,
      validity: plan.decision?.endsOn ? validityPhrase(plan.decision.endsOn, today) : null,
      // a commune's staff read the conditions they may see (the condition fiches touching their instances), not the decision's full text
      signatures: await withAcceptedRisks(ctx.db, restriction === null ? signatures : signatures.map((sig) => ({ ...sig, conditions: '' })), restriction),
      lifecycle,
      conditions: conditions.fiches.map((f) => ({ ...f, late: isLate(f, today), owner: ownersSummary(f.owners) })),
      lateConditions: lateConditions(conditions.fiches, today),
      ...lifecycleActions(plan, { editor: scope.editor, admin }, held),
      renewTitle: defaultRenewalTitle(plan.title, today),
      reminders: reminders.map((r) => ({ ...r, threshold: thresholdText(r.monthsBefore) })),
    });
  });

  return router;
}
