import { Router } from 'express';
import { ficheOwnerTeams, fichePage } from '../../data/fiche-list';
import { perimeterCommunes, perimeterGroups } from '../../data/perimeter';
import { rolloutSummaries } from '../../data/rollout';
import { listSignatures } from '../../data/meetings';
import { environmentList, milestones } from '../../data/referentials';
import { decisionConditions, holdings } from '../../data/lifecycle';
import { isLate, ownersSummary } from '../../domain/fiche';
import { FICHES_PER_PAGE, pageQuery, readFicheListQuery } from '../../domain/fiche-list';
import { defaultRenewalTitle, lateConditions, lifecycleOf } from '../../domain/lifecycle';
import { perimeterTableOfGroups } from '../../domain/perimeter';
import { STATUS_LABELS, STATUSES } from '../../domain/statuses';
import { OUTCOME_LABELS, STATE_BADGES, STATE_LABELS, validityPhrase } from '../../domain/homologation';
import { lifecycleActions } from '../../services/homologations';
import { actor } from '../auth';
import { evidenceOfPage } from './evidence';
import { openReminders, thresholdText } from '../../data/expiry-reminders';
import type { AppContext } from '../context';
import { HttpError } from '../errors';
import { str } from '../forms/fields';
import { scopeOf } from '../scope';
import { withAcceptedRisks } from '../../services/risk-committee';

/** Up to this many communes, the homologation's page names them; beyond, it counts them and links to the full table. */
export const COMMUNES_LISTED = 30;

/**
 * The homologation's own page: its state, decision, perimeter and fiches (formerly /plan). The fiches come a page at
 * a time (FICHES_PER_PAGE), filtered and searched by the address (?q=, avancement, equipe, retard, page): the page
 * weighs the same for 5 fiches or 500, and so does the perimeter (counted in SQL, its communes named up to
 * COMMUNES_LISTED).
 */
export function planRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const scope = scopeOf(res);
    const { restriction, hom: plan, today } = scope;
    const admin = actor(req).role === 'admin';
    const teams = await ficheOwnerTeams(ctx.db, plan.id, restriction);
    const q = (name: string) => str(req.query[name]);
    const read = readFicheListQuery({ q: q('q'), avancement: q('avancement'), equipe: q('equipe'), retard: q('retard'), page: q('page') }, teams);
    if (typeof read === 'string') throw new HttpError(400, read);
    const [list, groups, communeList, milestoneList, signatures, conditions, held, reminders, environments] = await Promise.all([
      fichePage(ctx.db, plan.id, restriction, read.filter, today, read.page),
      perimeterGroups(ctx.db, plan.id, restriction),
      perimeterCommunes(ctx.db, plan.id, restriction, COMMUNES_LISTED),
      milestones.listWhere(ctx.db, 'plan_id', plan.id),
      listSignatures(ctx.db, plan.id),
      decisionConditions(ctx.db, plan.id, restriction),
      admin ? holdings(ctx.db, plan.id) : Promise.resolve(null),
      // expiry reminders are the Métropole's business, like late-fiche alerts
      restriction === null ? openReminders(ctx.db, plan.id) : Promise.resolve([]),
      environmentList(ctx.db),
    ]);
    // the fiches followed per instance: done of total (a commune's staff, on their own instances)
    const rollouts = await rolloutSummaries(ctx.db, list.fiches.map((f) => f.id), environments, restriction);
    const lifecycle = lifecycleOf(plan, today, scope.reminderMonths);
    const perimeter = perimeterTableOfGroups(groups, environments);
    res.render('plan/index', {
      // a commune's staff do not get the decision's documents (they may hold its full text)
      ...(await evidenceOfPage(ctx, plan.id, { decision: restriction === null ? signatures.map((sig) => sig.id) : [] })),
      title: plan.title,
      plan,
      restricted: restriction !== null,
      // one column per environment present, in the organisation's order
      perimeter,
      instanceCount: perimeter.instances,
      communes: communeList.communes,
      communeCount: communeList.total,
      done: milestoneList.filter((m) => m.done),
      toDo: milestoneList.filter((m) => !m.done),
      fiches: list.fiches.map((f) => ({ ...f, late: isLate(f, today), rollout: rollouts.get(f.id) ?? null })),
      list: {
        total: list.total, matching: list.matching, ...list.window, perPage: FICHES_PER_PAGE,
        requested: read.page, query: read.query, filtered: read.filtered,
        href: (page: number) => `${scope.base}${pageQuery(read.query, page)}#fiches`,
        teams, statuses: STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] })),
      },
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
