import { format } from 'date-fns/format';
import { type Request, type Response, Router } from 'express';
import {
  addNote, createFiche, deleteFiche, type FicheDetail, findByNumber, getFiche, listFiches, listNotes, scopeInstanceIds, updateFiche,
} from '../../data/fiches';
import { ficheOrigin } from '../../data/lifecycle';
import { decisionsForFiche } from '../../data/meetings';
import { instancesOfPlan, services, teams } from '../../data/referentials';
import { getRiskScales, risksOfFiche } from '../../data/risks';
import { assigneeOptions } from '../../data/people';
import { evidenceRequiredForDone, stepHasEvidence } from '../../data/evidence';
import { isLate, ownersSummary, sideEffectsByLevel, stepsProgress } from '../../domain/fiche';
import { classBadge, classLabel, criticality } from '../../domain/risks';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { HttpError, notFound } from '../errors';
import { requireEdit, type Scope, scopeOf, visibleFiche as visibleFicheOf } from '../scope';
import { type FieldErrors, parseForm } from '../forms/fields';
import { noteForm } from '../forms/note';
import { applyFormButton, type Extra, type FicheFormValues, ficheToValues, newFicheValues, readFicheForm, UNKNOWN_STEP, validateFiche } from '../forms/fiche';
import { notify } from '../notice';
import { evidenceOfPage } from './evidence';
import { rolloutOfPage } from './rollout';
import { communeAnswersOfPage } from './commune-answers';

const OUTSIDE_PERIMETER = "Une des instances cochées vient d'être retirée du périmètre de l'homologation : vérifiez les instances cochées et enregistrez à nouveau.";

export function fichesRouter(ctx: AppContext): Router {
  const router = Router();
  const canEdit = requireEdit;
  const today = () => format(ctx.now(), 'yyyy-MM-dd');

  const visibleFiche = (req: Request, res: Response) => visibleFicheOf(ctx.db, req, res);

  async function renderForm(
    res: Response, status: number, opts: { fiche?: FicheDetail; values: FicheFormValues; errors?: FieldErrors; extra?: Extra; alert?: string },
  ) {
    const planId = scopeOf(res).hom.id;
    const [teamList, serviceList, instanceList, assignees] = await Promise.all([teams.list(ctx.db), services.list(ctx.db), instancesOfPlan(ctx.db, planId), assigneeOptions(ctx.db)]);
    // a step naming a suspended account or a removed person keeps that name among the choices until it is changed
    for (const st of opts.fiche?.steps ?? []) {
      const value = st.assigneeUserId !== null ? `u${st.assigneeUserId}` : st.assigneePersonId !== null ? `p${st.assigneePersonId}` : '';
      if (value && !assignees.some((a) => a.value === value)) assignees.push({ value, label: `${st.assigneeName ?? 'Compte supprimé'} (compte suspendu)` });
    }
    const extra = opts.extra ?? { steps: opts.fiche ? 1 : 3, counts: 1, effects: opts.fiche ? 1 : 2, owners: opts.fiche ? 1 : 2 };
    res.status(status).render('fiches/form', {
      title: opts.fiche ? `Modifier la fiche n°${opts.fiche.number}` : 'Nouvelle fiche action',
      fiche: opts.fiche ?? null,
      values: opts.values,
      errors: opts.errors ?? {},
      alert: opts.alert ?? null,
      extra,
      teams: teamList,
      services: serviceList,
      assigneeOptions: [{ value: '', label: 'Personne désignée' }, ...assignees],
      ficheTargetDate: opts.values.targetDate,
      instancesByService: serviceList.map((s) => ({ service: s, instances: instanceList.filter((i) => i.serviceId === s.id) })).filter((g) => g.instances.length > 0),
    });
  }

  /** A button that changes the form without saving it: the form again, as the button left it. */
  async function handleFormButton(req: Request, res: Response, values: FicheFormValues, fiche?: FicheDetail): Promise<boolean> {
    const pressed = applyFormButton(req.body, values);
    if (!pressed) return false;
    await renderForm(res, 200, { fiche, values: pressed.values, extra: pressed.extra });
    return true;
  }

  async function references(scope: Scope, fiche?: FicheDetail) {
    const [teamList, serviceList, instanceList, assignees] = await Promise.all([
      teams.list(ctx.db), services.list(ctx.db), instancesOfPlan(ctx.db, scope.hom.id), assigneeOptions(ctx.db),
    ]);
    return {
      // the active accounts and the named people, and whoever a step of this fiche already names (a suspended account stays until changed)
      assignees: new Set([...assignees.map((a) => a.value), ...(fiche?.steps ?? []).flatMap((st) => [
        ...(st.assigneeUserId !== null ? [`u${st.assigneeUserId}`] : []), ...(st.assigneePersonId !== null ? [`p${st.assigneePersonId}`] : []),
      ])]),
      teamIds: new Set(teamList.map((t) => t.id)),
      serviceIds: new Set(serviceList.map((s) => s.id)),
      instanceIds: new Set(instanceList.map((i) => i.id)),
    };
  }

  router.get('/fiches/nouvelle', canEdit, async (_req, res) => {
    const plan = scopeOf(res).hom;
    await renderForm(res, 200, { values: newFicheValues(await listFiches(ctx.db, plan.id, null)) });
  });

  router.post('/fiches', canEdit, async (req, res) => {
    const values = readFicheForm(req.body);
    if (await handleFormButton(req, res, values)) return;
    const { hom: plan, base } = scopeOf(res);
    const result = validateFiche(values, await references(scopeOf(res)));
    if (!result.ok) return renderForm(res, 422, { values, errors: result.errors });
    const unproven = await stepsDoneWithoutEvidence({ planId: plan.id, steps: [] }, values, result.input.steps);
    if (Object.keys(unproven).length) return renderForm(res, 422, { values, errors: unproven });
    const saved = await createFiche(ctx.db, plan.id, result.input, actor(req), ctx.now());
    if (saved.ok) {
      notify(req, `La fiche n°${result.input.number} « ${result.input.title} » est créée.`);
      return res.redirect(303, `${base}/fiches/${saved.id}`);
    }
    if (saved.reason === 'unknown_step') return renderForm(res, 422, { values, errors: unknownSteps(values, saved.stepIds) });
    if (saved.reason === 'outside_perimeter') return renderForm(res, 422, { values, errors: { instanceIds: OUTSIDE_PERIMETER } });
    return renderForm(res, 422, { values, errors: await numberTaken(plan.id, result.input.number) });
  });

  /**
   * On a homologation that requires evidence for a done step: the error next to each step the form marks done that was
   * not, and holds no document (the form has no justification field: "Mes actions" takes one in its note).
   */
  async function stepsDoneWithoutEvidence(fiche: Pick<FicheDetail, 'planId' | 'steps'>, values: FicheFormValues, steps: { id: number | null; status: string }[]): Promise<FieldErrors> {
    if (!(await evidenceRequiredForDone(ctx.db, fiche.planId))) return {};
    const errors: FieldErrors = {};
    const kept = values.steps.filter((row) => !row.remove);
    for (const [i, step] of steps.entries()) {
      if (step.status !== 'fait') continue;
      if (step.id !== null && fiche.steps.find((st) => st.id === step.id)?.status === 'fait') continue;
      if (step.id !== null && (await stepHasEvidence(ctx.db, step.id))) continue;
      const row = values.steps.indexOf(kept[i]!);
      errors[`steps.${row}.status`] = step.id === null
        ? "Cette homologation demande une pièce justificative pour une action faite : enregistrez d'abord l'action, joignez-lui sa pièce, puis déclarez-la faite."
        : "Cette homologation demande une pièce justificative pour une action faite : joignez-la à l'action depuis la page de la fiche, ou déclarez l'action faite dans « Mes actions » avec une justification.";
    }
    return errors;
  }

  /** The error next to each row whose step id the save refused (not one of this fiche's steps). */
  function unknownSteps(values: FicheFormValues, stepIds: number[]): FieldErrors {
    const errors: FieldErrors = {};
    values.steps.forEach((row, i) => {
      if (!row.remove && stepIds.includes(Number(row.id))) errors[`steps.${i}.label`] = UNKNOWN_STEP;
    });
    return errors;
  }

  async function numberTaken(planId: number, number: number): Promise<FieldErrors> {
    const other = await findByNumber(ctx.db, planId, number);
    return { number: `Le numéro ${number} est déjà pris${other ? ` par la fiche « ${other.title} »` : ''}.` };
  }

  router.get('/fiches/:id', async (req, res) => {
    const fiche = await visibleFiche(req, res);
    await renderFiche(req, res, fiche, 200);
  });

  async function renderFiche(req: Request, res: Response, fiche: FicheDetail, status: number, note?: { values: Record<string, string>; errors: FieldErrors }) {
    const [notes, decisions, origin, risks, scales] = await Promise.all([
      listNotes(ctx.db, fiche.id, scopeOf(res).restriction), decisionsForFiche(ctx.db, fiche.id), ficheOrigin(ctx.db, fiche.id),
      risksOfFiche(ctx.db, fiche.id, scopeOf(res).restriction), getRiskScales(ctx.db),
    ]);
    const evidence = await evidenceOfPage(ctx, fiche.planId, { fiche: [fiche.id], step: fiche.steps.map((st) => st.id), note: notes.map((n) => n.id) });
    const [rollout, answers] = await Promise.all([rolloutOfPage(ctx, fiche, scopeOf(res)), communeAnswersOfPage(ctx, fiche, scopeOf(res), actor(req))]);
    res.status(status).render('fiches/show', {
      ...evidence,
      ...rollout,
      ...answers,
      title: `Fiche n°${fiche.number} : ${fiche.title}`,
      fiche,
      notes,
      decisions,
      origin,
      // the risks this fiche treats, with their initial and residual criticality
      risks: risks.map((r) => ({
        ...r,
        criticality: classLabel(scales, r.likelihood, r.severity),
        badge: classBadge(criticality(scales, r.likelihood, r.severity), scales.classes.length),
        residual: classLabel(scales, r.residualLikelihood, r.residualSeverity),
        residualBadge: r.residualLikelihood === null || r.residualSeverity === null ? '' : classBadge(criticality(scales, r.residualLikelihood, r.residualSeverity), scales.classes.length),
      })),
      late: isLate(fiche, today()),
      today: today(),
      progress: stepsProgress(fiche.steps),
      owners: ownersSummary(fiche.owners),
      effects: sideEffectsByLevel(fiche.sideEffects),
      canEdit: scopeOf(res).canEdit,
      note: note ?? { values: { body: '', notedOn: today(), status: '' }, errors: {} },
    });
  }

  router.get('/fiches/:id/modifier', canEdit, async (req, res) => {
    const fiche = await visibleFiche(req, res);
    await renderForm(res, 200, { fiche, values: ficheToValues(fiche, await scopeInstanceIds(ctx.db, fiche.id)) });
  });

  router.post('/fiches/:id', canEdit, async (req, res) => {
    const fiche = await visibleFiche(req, res);
    const values = readFicheForm(req.body);
    if (await handleFormButton(req, res, values, fiche)) return;
    const result = validateFiche(values, await references(scopeOf(res), fiche));
    if (!result.ok) return renderForm(res, 422, { fiche, values, errors: result.errors });
    const unproven = await stepsDoneWithoutEvidence(fiche, values, result.input.steps);
    if (Object.keys(unproven).length) return renderForm(res, 422, { fiche, values, errors: unproven });
    const saved = await updateFiche(ctx.db, fiche.id, result.version, result.input, actor(req), ctx.now());
    if (saved.ok) {
      notify(req, `La fiche n°${result.input.number} « ${result.input.title} » est enregistrée.`);
      return res.redirect(303, `${scopeOf(res).base}/fiches/${fiche.id}`);
    }
    if (saved.reason === 'not_found') throw notFound('Cette fiche');
    if (saved.reason === 'duplicate_number') return renderForm(res, 422, { fiche, values, errors: await numberTaken(fiche.planId, result.input.number) });
    if (saved.reason === 'unknown_step') return renderForm(res, 422, { fiche, values, errors: unknownSteps(values, saved.stepIds) });
    if (saved.reason === 'outside_perimeter') return renderForm(res, 422, { fiche, values, errors: { instanceIds: OUTSIDE_PERIMETER } });
    const current = await getFiche(ctx.db, fiche.id);
    return renderForm(res, 409, {
      fiche,
      values,
      alert:
        `Cette fiche a été modifiée par quelqu'un d'autre (le ${current ? current.updatedAt.slice(0, 10).split('-').reverse().join('/') : ''}) ` +
        "depuis que vous avez ouvert ce formulaire. Vos modifications n'ont pas été enregistrées, pour ne pas écraser les siennes. " +
        'Ouvrez la fiche dans un autre onglet pour voir sa version actuelle, puis reportez-y vos changements : ils restent affichés ci-dessous.',
    });
  });

  router.post('/fiches/:id/notes', canEdit, async (req, res) => {
    const fiche = await visibleFiche(req, res);
    const form = parseForm(noteForm, req.body);
    if (!form.ok) return renderFiche(req, res, fiche, 422, { values: form.values, errors: form.errors });
    await addNote(ctx.db, fiche.id, form.data, actor(req), ctx.now());
    notify(req, `La note est ajoutée à l'historique de la fiche n°${fiche.number}.`);
    res.redirect(303, `${scopeOf(res).base}/fiches/${fiche.id}#historique`);
  });

  router.get('/fiches/:id/supprimer', canEdit, async (req, res) => {
    const fiche = await visibleFiche(req, res);
    res.render('fiches/delete', { title: `Supprimer la fiche n°${fiche.number}`, fiche });
  });

  router.post('/fiches/:id/supprimer', canEdit, async (req, res) => {
    const fiche = await visibleFiche(req, res);
    if (!(await deleteFiche(ctx.db, fiche.id, actor(req), ctx.now()))) throw new HttpError(404, "Cette fiche n'existe plus.");
    notify(req, `La fiche n°${fiche.number} « ${fiche.title} » est supprimée.`);
    res.redirect(303, scopeOf(res).base);
  });

  return router;
}
