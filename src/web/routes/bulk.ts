import { type Request, type Response, Router } from 'express';
import { BULK_KIND_LABELS, getBulkOperation, listBulkOperations } from '../../data/bulk';
import { applyBulkChange, bulkCandidates, bulkObjects, type BulkStepRow, stepsWithoutEvidence } from '../../data/bulk-changes';
import { evidenceRequiredForDone } from '../../data/evidence';
import { assigneeOptions } from '../../data/people';
import { teams } from '../../data/referentials';
import {
  type BulkChange, type BulkPlan, type BulkSelection, type BulkTarget, changeText, currentValue, filterFiches, filterSteps, objectLabel, planBulk, valueLines,
} from '../../domain/bulk';
import { isLate, isStepLate, ownersSummary } from '../../domain/fiche';
import { STATUS_LABELS, STATUSES } from '../../domain/statuses';
import { plural } from '../../domain/words';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { idParam, notFound } from '../errors';
import type { FieldErrors } from '../forms/fields';
import {
  type BulkFormValues, type BulkReferences, emptyBulkForm, filtersOf, NO_ASSIGNEE, readBulkForm, readFilters, seenField, targetOf, validateBulk,
} from '../forms/bulk';
import { notify } from '../notice';
import { requireEdit, scopeOf } from '../scope';

/** Operations listed per page of the review. */
const PAGE_SIZE = 50;

/** The words of each kind of object. */
const WORDS: Record<BulkTarget, { one: string; many: string; changed: string; changedMany: string }> = {
  fiches: { one: 'fiche', many: 'fiches', changed: 'modifiée', changedMany: 'modifiées' },
  actions: { one: 'action', many: 'actions', changed: 'modifiée', changedMany: 'modifiées' },
};

const outsideMessage = (target: BulkTarget, n: number) => (target === 'fiches'
  ? `La sélection contient ${plural(n, 'fiche qui ne fait', 'fiches qui ne font')} pas partie de cette homologation, ou qui n'existe${n >= 2 ? 'nt' : ''} plus : rien n'a été modifié. Cochez de nouveau les fiches à modifier.`
  : `La sélection contient ${plural(n, 'action qui ne fait', 'actions qui ne font')} pas partie de cette homologation, ou qui n'existe${n >= 2 ? 'nt' : ''} plus : rien n'a été modifié. Cochez de nouveau les actions à modifier.`);

const CONFLICT_MESSAGE = "Quelqu'un a modifié une partie de votre sélection depuis que vous l'avez affichée : rien n'a été enregistré, pour ne pas écraser ses changements. "
  + 'Les éléments concernés sont listés ci-dessous avec leur valeur actuelle. Relisez-les, puis prévisualisez de nouveau avec les versions actuelles.';

/** Bulk ("par lot") changes of fiches and steps, and the review of a homologation's bulk operations. */
export function bulkRouter(ctx: AppContext): Router {
  const router = Router();

  async function references(): Promise<BulkReferences & { teamList: { id: number; name: string }[]; assigneeList: { value: string; label: string }[] }> {
    const [teamList, assignees] = await Promise.all([teams.list(ctx.db), assigneeOptions(ctx.db)]);
    return {
      teams: new Map(teamList.map((t) => [t.id, t.name])),
      // the name a step shows, without the "(compte)" / "(sans compte)" of the list
      assignees: new Map(assignees.map((a) => [a.value, a.label.replace(/ \((compte|sans compte)\)$/, '')])),
      teamList, assigneeList: assignees,
    };
  }

  /** The selection page: the filtered list with the rows checked, the change, the errors next to their fields. */
  async function renderSelection(res: Response, status: number, values: BulkFormValues, errors: FieldErrors = {}) {
    const { hom, today, base } = scopeOf(res);
    const [candidates, refs] = await Promise.all([bulkCandidates(ctx.db, hom.id), references()]);
    const filters = filtersOf(values.filters);
    const checked = new Set(values.ids);
    // a row checked stays listed even when the filters (or a change made meanwhile) would leave it out
    const keep = (id: number, shown: boolean) => shown || checked.has(String(id));
    const seenOf = (id: number, current: number) => (checked.has(String(id)) && values.seen[String(id)] ? values.seen[String(id)]! : String(current));
    const shownFiches = new Set(filterFiches(candidates.fiches, filters, today).map((f) => f.id));
    const fiches = candidates.fiches.filter((f) => keep(f.id, shownFiches.has(f.id))).map((f) => ({
      ...f, owner: ownersSummary(f.owners), late: isLate(f, today), seen: seenOf(f.id, f.version), checked: checked.has(String(f.id)),
    }));
    const stepsBy = new Map<number, BulkStepRow[]>();
    for (const s of candidates.steps) stepsBy.set(s.ficheId, [...(stepsBy.get(s.ficheId) ?? []), s]);
    const groups = candidates.fiches.map((f) => {
      const all = stepsBy.get(f.id) ?? [];
      const shown = new Set(filterSteps(all, f, filters, today).map((s) => s.id));
      return {
        fiche: f,
        steps: all.filter((s) => keep(s.id, shown.has(s.id))).map((s) => ({
          ...s, late: isStepLate(s, f.targetDate, today), seen: seenOf(s.id, f.version), checked: checked.has(String(s.id)),
        })),
      };
    }).filter((g) => g.steps.length > 0);
    const query = new URLSearchParams({ type: values.type, ...(values.filters.etat ? { etat: values.filters.etat } : {}), ...(values.filters.equipe ? { equipe: values.filters.equipe } : {}), ...(values.filters.retard ? { retard: '1' } : {}) });
    res.status(status).render('bulk/select', {
      title: 'Modifier par lot',
      values, errors, filters: values.filters, query: query.toString(),
      fiches, groups,
      totals: { fiches: candidates.fiches.length, steps: candidates.steps.length },
      shown: values.type === 'fiches' ? fiches.length : groups.reduce((n, g) => n + g.steps.length, 0),
      teams: refs.teamList,
      ownerOptions: values.type === 'fiches'
        ? [{ value: '', label: 'Choisir une équipe' }, ...refs.teamList.map((t) => ({ value: String(t.id), label: t.name }))]
        : [{ value: '', label: 'Choisir un responsable' }, { value: NO_ASSIGNEE, label: 'Aucun responsable' }, ...refs.assigneeList],
      statusOptions: [{ value: '', label: 'Choisir un avancement' }, ...STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] }))],
      STATUSES,
      base,
    });
  }

  /** The preview: each change before → after, the unchanged, the conflicts (409: no confirmation, a new preview instead). */
  function renderPreview(res: Response, status: number, values: BulkFormValues, change: BulkChange, selection: BulkSelection[], plan: BulkPlan, message?: string) {
    const words = WORDS[values.type];
    const seen = new Map(selection.map((s) => [s.id, s.seenVersion]));
    const row = (object: Parameters<typeof objectLabel>[0] & { id: number; ficheId: number }) => ({ label: objectLabel(object), ficheId: object.ficheId });
    res.status(status).render('bulk/preview', {
      title: `Aperçu de la modification par lot`,
      values, words, message: message ?? (plan.conflicts.length ? CONFLICT_MESSAGE : null),
      changeText: changeText(change, values.type),
      changes: plan.changes.map((c) => ({ ...row(c.object), before: valueLines(c.before), after: valueLines(c.after) })),
      unchanged: plan.unchanged.map((o) => ({ ...row(o), current: valueLines(currentValue(o, change)) })),
      conflicts: plan.conflicts.map((c) => ({ ...row(c.object), current: valueLines(c.current), version: c.object.version })),
      // the confirmation carries the versions seen when the selection was displayed, never the ones read now
      selection: selection.map((s) => ({ id: s.id, seen: seen.get(s.id) })),
      // a new preview takes the current versions: the user has seen the conflicts' current values
      current: [...plan.changes.map((c) => c.object), ...plan.unchanged, ...plan.conflicts.map((c) => c.object)].map((o) => ({ id: o.id, seen: o.version })),
      seenField,
    });
  }

  /** The steps going to done without the evidence the homologation requires: the error next to the status field, or none. */
  async function evidenceError(planId: number, target: BulkTarget, change: BulkChange, plan: BulkPlan): Promise<FieldErrors> {
    if (target !== 'actions' || change.kind !== 'status' || change.status !== 'fait' || !plan.changes.length) return {};
    if (!(await evidenceRequiredForDone(ctx.db, planId))) return {};
    const missing = new Set(await stepsWithoutEvidence(ctx.db, plan.changes.map((c) => c.object.id)));
    return evidenceMessage(plan.changes.map((c) => c.object).filter((o) => missing.has(o.id)));
  }

  const evidenceMessage = (objects: Parameters<typeof objectLabel>[0][]): FieldErrors => (objects.length ? {
    status: `Cette homologation demande une pièce justificative pour une action faite, et ${plural(objects.length, "cette action n'en a pas", "ces actions n'en ont pas")} : `
      + `${objects.slice(0, 10).map((o) => objectLabel(o)).join(' ; ')}${objects.length > 10 ? ` et ${objects.length - 10} autres` : ''}. `
      + 'Décochez-les, ou joignez-leur une pièce depuis la page de leur fiche.',
  } : {});

  router.get('/lot', requireEdit, async (req, res) => {
    const source = req.query as Record<string, unknown>;
    const values = emptyBulkForm(targetOf(source.type), readFilters(source));
    await renderSelection(res, 200, values);
  });

  /** The form read and checked, the objects read and planned: what the preview and the confirmation both start from. */
  async function prepared(req: Request, res: Response) {
    const values = readBulkForm(req.body);
    const { hom } = scopeOf(res);
    const valid = validateBulk(values, await references());
    if (!valid.ok) {
      await renderSelection(res, 422, values, valid.errors);
      return null;
    }
    const objects = await bulkObjects(ctx.db, hom.id, values.type, valid.selection.map((s) => s.id));
    const plan = planBulk(objects, valid.selection, valid.change);
    if (plan.outside.length) {
      await renderSelection(res, 422, values, { selection: outsideMessage(values.type, plan.outside.length) });
      return null;
    }
    return { values, ...valid, plan };
  }

  router.post('/lot/apercu', requireEdit, async (req, res) => {
    // "revenir à la sélection": the selection page, as the preview carried it
    if (req.body?.retour === '1') return renderSelection(res, 200, readBulkForm(req.body));
    const p = await prepared(req, res);
    if (!p) return;
    if (p.plan.conflicts.length) return renderPreview(res, 409, p.values, p.change, p.selection, p.plan);
    const missing = await evidenceError(scopeOf(res).hom.id, p.values.type, p.change, p.plan);
    if (Object.keys(missing).length) return renderSelection(res, 422, p.values, missing);
    renderPreview(res, 200, p.values, p.change, p.selection, p.plan);
  });

  router.post('/lot', requireEdit, async (req, res) => {
    const p = await prepared(req, res);
    if (!p) return;
    const { hom, base, today } = scopeOf(res);
    const result = await applyBulkChange(ctx.db, hom.id, p.values.type, p.selection, p.change, {
      actor: actor(req), at: ctx.now(), today, evidenceRequired: await evidenceRequiredForDone(ctx.db, hom.id),
    });
    const words = WORDS[p.values.type];
    if (result.ok) {
      if (result.count === 0) {
        notify(req, `Rien n'a changé : ${p.values.type === 'fiches' ? 'les fiches cochées étaient' : 'les actions cochées étaient'} déjà dans l'état demandé.`, 'info');
        return res.redirect(303, `${base}/lot?type=${p.values.type}`);
      }
      if (result.bulkId === null) {
        notify(req, `1 ${words.one} ${words.changed}.`);
        return res.redirect(303, result.single ? `${base}/fiches/${result.single.ficheId}` : base);
      }
      notify(req, `${plural(result.count, words.one, words.many)} ${result.count >= 2 ? words.changedMany : words.changed} (opération par lot n°${result.bulkId}).`);
      return res.redirect(303, `${base}/lots/${result.bulkId}`);
    }
    if (result.reason === 'outside') return renderSelection(res, 422, p.values, { selection: outsideMessage(p.values.type, result.ids.length) });
    if (result.reason === 'evidence') {
      const ids = new Set(result.stepIds);
      return renderSelection(res, 422, p.values, evidenceMessage(p.plan.changes.map((c) => c.object).filter((o) => ids.has(o.id))));
    }
    if (result.reason === 'conflict') return renderPreview(res, 409, p.values, p.change, p.selection, result.plan);
    // busy: the selection as it is now, to confirm again
    const plan = planBulk(await bulkObjects(ctx.db, hom.id, p.values.type, p.selection.map((s) => s.id)), p.selection, p.change);
    return renderPreview(res, 409, p.values, p.change, p.selection, plan,
      plan.conflicts.length ? CONFLICT_MESSAGE : "Une autre modification de ces fiches était en cours : rien n'a été enregistré. Relisez l'aperçu ci-dessous et confirmez de nouveau.");
  });

  // ---- the review of the operations: the Métropole's people see all, a commune's staff their commune's own

  router.get('/lots', async (req, res) => {
    const { hom, restriction } = scopeOf(res);
    const page = /^\d{1,6}$/.test(String(req.query.page ?? '')) ? Math.max(1, Number(req.query.page)) : 1;
    const { total, operations } = await listBulkOperations(ctx.db, hom.id, { communeId: restriction, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
    res.render('bulk/operations', {
      title: 'Opérations par lot', operations, total, page, pages: Math.max(1, Math.ceil(total / PAGE_SIZE)), KIND_LABELS: BULK_KIND_LABELS,
      restricted: restriction !== null, canEdit: scopeOf(res).canEdit,
    });
  });

  router.get('/lots/:id', async (req, res) => {
    const { hom, restriction } = scopeOf(res);
    const id = idParam(req.params.id, 'Cette opération par lot');
    const found = await getBulkOperation(ctx.db, hom.id, id);
    // a commune's staff see their commune's operations only: another's, or the Métropole's, does not exist for them
    if (!found || (restriction !== null && found.operation.communeId !== restriction)) throw notFound('Cette opération par lot');
    res.render('bulk/operation', {
      title: `Opération par lot n°${found.operation.id}`, operation: found.operation, KIND_LABELS: BULK_KIND_LABELS,
      entries: found.entries.map((e) => ({
        ...e,
        before: valueLines(e.before), after: valueLines(e.after),
        ficheId: e.entityType === 'fiche' || e.entityType === 'deploiement' ? e.entityId
          : typeof (e.after as { ficheId?: unknown } | null)?.ficheId === 'number' ? (e.after as { ficheId: number }).ficheId : null,
      })),
    });
  });

  return router;
}
