import { format } from 'date-fns/format';
import { type Request, type Response, Router } from 'express';
import {
  addCommuneNote, answerSideEffects, communeStepsOfFiches, communeStepStatuses, concernedCommunes, setCommuneSteps, sideEffectAnswers, strongEffectsOf,
} from '../../data/commune-answers';
import { type FicheDetail, getFiche, listFiches } from '../../data/fiches';
import { listMeetings } from '../../data/meetings';
import { communes, environmentList } from '../../data/referentials';
import { rolloutSummaries } from '../../data/rollout';
import {
  ANSWER_COMMENT_MAX, ANSWER_STATE_BADGES, ANSWER_STATE_LABELS, answerLines, answersSummary, answerState, atYourPlace, awaitsAnswer, communeLabel,
  communeStepsPhrase, type CommuneStepStatus, SIDE_EFFECT_ANSWER_LABELS, SIDE_EFFECT_ANSWERS, type SideEffectAnswer, type StoredAnswer, strongEffects,
  wordingFingerprint,
} from '../../domain/commune-answers';
import { rolloutShort } from '../../domain/rollout';
import type { Actor } from '../../domain/roles';
import { isStatus, type Status, STATUS_LABELS, STATUSES } from '../../domain/statuses';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { forbidden, HttpError, notFound } from '../errors';
import { type FieldErrors, requiredText, rows, str } from '../forms/fields';
import { notify } from '../notice';
import { requireCommune, type Scope, scopeOf, visibleFiche } from '../scope';

/** Refused: a commune's note never changes the fiche's status. */
export const NOTE_STATUS_REFUSED =
  "Une commune ne peut pas changer l'avancement de la fiche : seule l'équipe projet le fait. Votre point n'a pas été enregistré ; envoyez-le sans nouvel avancement.";
/** Refused: a commune's note is dated the day it is written. */
export const NOTE_DATE_REFUSED =
  "Le point d'avancement d'une commune porte la date du jour où il est écrit : cette date ne se choisit pas. Votre point n'a pas été enregistré.";
export const NO_STRONG_EFFECT = "Cette fiche n'a pas d'effet de bord fort : il n'y a rien à prendre en compte ni à contester.";
export const UNKNOWN_COMMUNE_STEP =
  "Une des actions envoyées n'est pas une action de cette fiche à mener par les communes : rien n'a été enregistré. Rechargez la fiche et recommencez.";
export const STEPS_CONFLICT =
  "Une autre personne de votre commune a changé l'état de ces actions depuis que vous avez ouvert la page : rien n'a été enregistré, pour ne pas écraser son choix. " +
  'Les états actuels sont rappelés ci-dessous, avec les vôtres dans les listes : enregistrez à nouveau si vous le souhaitez.';
export const ANSWER_CONFLICT =
  "Une autre personne de votre commune a répondu entre-temps : votre réponse n'a pas été enregistrée, pour ne pas écraser la sienne. " +
  'Sa réponse est rappelée ci-dessous, avec la vôtre dans le formulaire : envoyez-la à nouveau si vous le souhaitez.';
export const WORDING_CHANGED =
  "Les effets de bord forts de cette fiche ont été modifiés depuis que vous avez ouvert la page : votre réponse n'a pas été enregistrée. " +
  'Relisez-les ci-dessous, puis répondez à nouveau.';
export const OBJECTION_NEEDS_COMMENT = 'Une objection doit être expliquée : saisissez votre commentaire.';

const RETURN_TO_COMMUNE = 'ma-commune';
const STATUS_OPTIONS = STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] }));

/** A for_communes step in the steps form: its commune status seen (version), the status chosen. */
interface StepRow { id: number; position: number; label: string; status: Status; version: number; current: Status }

/** The answer form's values, as typed. */
interface AnswerValues { answer: string; comment: string; version: string; fingerprint: string }

/** One commune's page data of the answer to a fiche's strong side effects. */
function ownAnswer(answer: StoredAnswer | undefined, current: readonly string[]) {
  const state = answerState(answer, current);
  return {
    state, label: ANSWER_STATE_LABELS[state], badge: ANSWER_STATE_BADGES[state], awaits: awaitsAnswer(state),
    answer: answer?.answer ?? null, answerLabel: answer ? SIDE_EFFECT_ANSWER_LABELS[answer.answer] : null,
    comment: answer?.comment ?? '', version: answer?.version ?? 0, answeredAt: answer?.answeredAt ?? null, userName: answer?.userName ?? null,
    previousEffects: answer && state === 'a_renouveler' ? answer.effects : [],
  };
}

const answerValuesOf = (own: ReturnType<typeof ownAnswer>, current: readonly string[]): AnswerValues => ({
  answer: own.awaits ? '' : own.answer ?? '', comment: own.awaits ? '' : own.comment, version: String(own.version), fingerprint: wordingFingerprint(current),
});

/** What a commune answers for its own instances: steps that fall to it, notes, acknowledgement of strong side effects. */
export function communeAnswersRouter(ctx: AppContext): Router {
  const router = Router();
  const today = () => format(ctx.now(), 'yyyy-MM-dd');

  /** The fiche as the commune's staff see it (its scope cut to their instances): 404 elsewhere, 403 another commune's. */
  const communeFiche = (req: Request, res: Response) => visibleFiche(ctx.db, req, res);

  const communeOf = (res: Response) => scopeOf(res).restriction!;
  /** The posted fields (none when the request had no form body). */
  const fieldsOf = (req: Request): Record<string, unknown> => (typeof req.body === 'object' && req.body !== null ? req.body as Record<string, unknown> : {});
  /** Back where the form was: the commune's page (at the fiche's block) or the fiche's page (at the section). */
  const backTo = (req: Request, res: Response, fiche: FicheDetail, part: 'actions' | 'effets') => (str(fieldsOf(req).retour) === RETURN_TO_COMMUNE
    ? `${scopeOf(res).base}/ma-commune#${part === 'actions' ? 'actions-' : ''}fiche-${fiche.id}`
    : `${scopeOf(res).base}/fiches/${fiche.id}#${part === 'actions' ? 'actions' : 'effets'}-communes`);

  async function communeName(res: Response): Promise<string> {
    const commune = await communes.get(ctx.db, communeOf(res));
    if (!commune) throw forbidden();
    return commune.name;
  }

  /** The steps form of a fiche as the commune stands now, each step's choice taken from `chosen` when given. */
  async function stepRows(fiche: FicheDetail, communeId: number, chosen: Map<number, Status> = new Map()): Promise<StepRow[]> {
    const forCommunes = fiche.steps.filter((s) => s.forCommunes);
    const statuses = new Map((await communeStepStatuses(ctx.db, forCommunes.map((s) => s.id), communeId)).map((s) => [s.stepId, s]));
    return forCommunes.map((s) => {
      const now = statuses.get(s.id);
      const current = now?.status ?? 'non_demarre';
      return { id: s.id, position: s.position, label: s.label, current, status: chosen.get(s.id) ?? current, version: now?.version ?? 0 };
    });
  }

  /** The page shown when a commune's answer is refused: the one form, the French message next to its field, the input kept. */
  async function renderRefused(
    res: Response, status: number, fiche: FicheDetail,
    form: { kind: 'actions'; steps: StepRow[] } | { kind: 'note'; body: string } | { kind: 'effets'; values: AnswerValues },
    opts: { errors?: FieldErrors; alert?: string; retour: string },
  ) {
    const name = await communeName(res);
    const current = strongEffects(fiche.sideEffects);
    const own = form.kind === 'effets' ? ownAnswer((await sideEffectAnswers(ctx.db, [fiche.id], communeOf(res)))[0], current) : null;
    res.status(status).render('commune/answer', {
      title: `${communeLabel(name)} : votre réponse sur la fiche n°${fiche.number}`,
      fiche, communeName: name, form, own, current, errors: opts.errors ?? {}, alert: opts.alert ?? null, retour: opts.retour, today: today(),
      statusOptions: STATUS_OPTIONS, ANSWER_COMMENT_MAX, SIDE_EFFECT_ANSWER_LABELS,
    });
  }

  router.post('/fiches/:id/commune/actions', requireCommune, async (req, res) => {
    const fiche = await communeFiche(req, res);
    const communeId = communeOf(res);
    const retour = str(fieldsOf(req).retour);
    const posted = rows(fieldsOf(req).steps).map((r) => ({ id: str(r.id), version: str(r.version), status: str(r.status) }));
    const errors: FieldErrors = {};
    const parsed: { stepId: number; seenVersion: number; status: Status }[] = [];
    let unknown = posted.length === 0;
    posted.forEach((r, i) => {
      if (!/^\d{1,9}$/.test(r.id) || !/^\d{1,9}$/.test(r.version)) { unknown = true; return; }
      if (!isStatus(r.status)) errors[`steps.${i}.status`] = 'Choisissez un état dans la liste.';
      else parsed.push({ stepId: Number(r.id), seenVersion: Number(r.version), status: r.status });
    });
    const chosen = new Map(parsed.map((p) => [p.stepId, p.status]));
    if (unknown) {
      return renderRefused(res, 422, fiche, { kind: 'actions', steps: await stepRows(fiche, communeId) }, {
        retour, alert: posted.length === 0 ? "Aucune action n'a été envoyée : choisissez l'état de vos actions, puis enregistrez." : UNKNOWN_COMMUNE_STEP,
      });
    }
    if (Object.keys(errors).length) {
      // the errors name the rows as posted: shown against the same rows, in the same order
      const steps = await stepRows(fiche, communeId, chosen);
      const ordered = posted.map((r) => steps.find((s) => String(s.id) === r.id)).filter((s): s is StepRow => Boolean(s));
      if (ordered.length !== posted.length) return renderRefused(res, 422, fiche, { kind: 'actions', steps }, { retour, alert: UNKNOWN_COMMUNE_STEP });
      return renderRefused(res, 422, fiche, { kind: 'actions', steps: ordered }, { retour, errors });
    }
    const result = await setCommuneSteps(ctx.db, { ficheId: fiche.id, planId: fiche.planId, communeId }, parsed, actor(req), ctx.now());
    if (!result.ok) {
      if (result.reason === 'not_found') throw notFound('Cette fiche');
      if (result.reason === 'unknown_step') return renderRefused(res, 422, fiche, { kind: 'actions', steps: await stepRows(fiche, communeId) }, { retour, alert: UNKNOWN_COMMUNE_STEP });
      return renderRefused(res, 409, fiche, { kind: 'actions', steps: await stepRows(fiche, communeId, chosen) }, { retour, alert: STEPS_CONFLICT });
    }
    notify(req, result.changed
      ? `${result.changed > 1 ? `Les ${result.changed} actions sont enregistrées` : "L'action est enregistrée"} pour votre commune (fiche n°${fiche.number}).`
      : `Rien n'a changé : les actions de la fiche n°${fiche.number} avaient déjà ces états pour votre commune.`, result.changed ? 'success' : 'info');
    res.redirect(303, backTo(req, res, fiche, 'actions'));
  });

  router.post('/fiches/:id/commune/note', requireCommune, async (req, res) => {
    const fiche = await communeFiche(req, res);
    // "nothing else becomes writable": neither the fiche's status nor the note's date
    const fields = fieldsOf(req);
    if (Object.hasOwn(fields, 'status')) throw new HttpError(403, NOTE_STATUS_REFUSED);
    if (Object.hasOwn(fields, 'notedOn')) throw new HttpError(403, NOTE_DATE_REFUSED);
    const body = str(fields.body);
    const parsed = requiredText(5000, "Saisissez le point d'avancement.").safeParse(body);
    if (!parsed.success) {
      return renderRefused(res, 422, fiche, { kind: 'note', body }, { retour: '', errors: { body: parsed.error.issues[0]?.message ?? "Saisissez le point d'avancement." } });
    }
    const added = await addCommuneNote(ctx.db, { ficheId: fiche.id, planId: fiche.planId, communeId: communeOf(res) }, parsed.data, today(), actor(req), ctx.now());
    if (!added) throw notFound('Cette fiche');
    notify(req, `Votre point est ajouté à l'historique de la fiche n°${fiche.number}, au nom de votre commune.`);
    res.redirect(303, `${scopeOf(res).base}/fiches/${fiche.id}#historique`);
  });

  router.post('/fiches/:id/commune/effets', requireCommune, async (req, res) => {
    const fiche = await communeFiche(req, res);
    const current = strongEffects(fiche.sideEffects);
    if (!current.length) throw new HttpError(422, NO_STRONG_EFFECT);
    const fields = fieldsOf(req);
    const retour = str(fields.retour);
    const values: AnswerValues = { answer: str(fields.answer), comment: str(fields.comment), version: str(fields.version), fingerprint: str(fields.fingerprint) };
    const errors: FieldErrors = {};
    const answer = (SIDE_EFFECT_ANSWERS as readonly string[]).includes(values.answer) ? values.answer as SideEffectAnswer : null;
    const comment = values.comment.trim();
    if (!answer) errors.answer = "Choisissez votre réponse : prise d'acte ou objection.";
    if (comment.length > ANSWER_COMMENT_MAX) errors.comment = `${ANSWER_COMMENT_MAX} caractères au maximum (vous en avez saisi ${comment.length}).`;
    else if (answer === 'objection' && !comment) errors.comment = OBJECTION_NEEDS_COMMENT;
    const seenVersion = /^\d{1,9}$/.test(values.version) ? Number(values.version) : null;
    if (!answer || Object.keys(errors).length) return renderRefused(res, 422, fiche, { kind: 'effets', values }, { retour, errors });
    if (seenVersion === null) {
      return renderRefused(res, 409, fiche, { kind: 'effets', values: { ...values, fingerprint: wordingFingerprint(current) } }, { retour, alert: ANSWER_CONFLICT });
    }
    const result = await answerSideEffects(ctx.db, { ficheId: fiche.id, planId: fiche.planId, communeId: communeOf(res) },
      { answer, comment, seenVersion, fingerprint: values.fingerprint }, actor(req), ctx.now());
    if (!result.ok) {
      if (result.reason === 'not_found') throw notFound('Cette fiche');
      // the fiche as it stands now: its current wording, and the version of the commune's current answer
      const now = (await getFiche(ctx.db, fiche.id, communeOf(res))) ?? fiche;
      const nowEffects = strongEffects(now.sideEffects);
      if (result.reason === 'no_strong_effect' || !nowEffects.length) throw new HttpError(422, NO_STRONG_EFFECT);
      const stored = (await sideEffectAnswers(ctx.db, [fiche.id], communeOf(res)))[0];
      const kept = { ...values, version: String(stored?.version ?? 0), fingerprint: wordingFingerprint(nowEffects) };
      return renderRefused(res, 409, now, { kind: 'effets', values: kept }, { retour, alert: result.reason === 'wording_changed' ? WORDING_CHANGED : ANSWER_CONFLICT });
    }
    notify(req, answer === 'prise_acte'
      ? `Votre prise d'acte des effets de bord forts de la fiche n°${fiche.number} est enregistrée.`
      : `Votre objection aux effets de bord forts de la fiche n°${fiche.number} est enregistrée : l'équipe projet la verra, et le comité aussi.`);
    res.redirect(303, backTo(req, res, fiche, 'effets'));
  });

  /** A commune's page in this homologation: its fiches and their rollout at its place, its steps, the strong side effects to answer. */
  router.get('/ma-commune', async (req, res) => {
    const scope = scopeOf(res);
    if (scope.restriction === null) throw forbidden();
    const communeId = scope.restriction;
    const name = await communeName(res);
    const fiches = await listFiches(ctx.db, scope.hom.id, communeId);
    const ids = fiches.map((f) => f.id);
    const [environments, steps, effects, answers, meetings] = await Promise.all([
      environmentList(ctx.db), communeStepsOfFiches(ctx.db, ids, communeId), strongEffectsOf(ctx.db, ids), sideEffectAnswers(ctx.db, ids, communeId),
      listMeetings(ctx.db, scope.hom.id, ids),
    ]);
    const rollout = await rolloutSummaries(ctx.db, ids, environments, communeId);
    const answerBy = new Map(answers.map((a) => [a.ficheId, a]));
    const nowLocal = `${scope.today}T00:00`;
    const signature = meetings.filter((m) => m.kind === 'signature' && !m.heldAt && m.startsAt >= nowLocal).sort((a, b) => a.startsAt.localeCompare(b.startsAt))[0] ?? null;
    const effectItems = fiches.filter((f) => effects.has(f.id)).map((f) => {
      const current = effects.get(f.id)!;
      const own = ownAnswer(answerBy.get(f.id), current);
      return { fiche: f, current, own, values: answerValuesOf(own, current) };
    });
    res.render('commune/index', {
      title: `${communeLabel(name)} dans l'homologation`,
      communeName: name,
      canAnswer: !scope.readOnly,
      signature,
      fiches: fiches.map((f) => {
        const r = rollout.get(f.id);
        return { ...f, rollout: r ? atYourPlace(rolloutShort(r)) : null };
      }),
      // awaiting an answer first, then in fiche order
      effects: [...effectItems.filter((e) => e.own.awaits), ...effectItems.filter((e) => !e.own.awaits)],
      awaiting: effectItems.filter((e) => e.own.awaits).length,
      stepGroups: groupSteps(steps),
      stepsToDo: steps.filter((s) => s.status !== 'fait').length,
      statusOptions: STATUS_OPTIONS, ANSWER_COMMENT_MAX, SIDE_EFFECT_ANSWER_LABELS,
      retour: RETURN_TO_COMMUNE,
    });
  });

  return router;
}

/** The commune's steps grouped by fiche, for one form per fiche. */
function groupSteps(steps: Awaited<ReturnType<typeof communeStepsOfFiches>>) {
  const groups = new Map<number, { ficheId: number; number: number; title: string; steps: StepRow[] }>();
  for (const s of steps) {
    const g = groups.get(s.ficheId) ?? { ficheId: s.ficheId, number: s.ficheNumber, title: s.ficheTitle, steps: [] };
    g.steps.push({ id: s.stepId, position: s.position, label: s.label, status: s.status, current: s.status, version: s.version });
    groups.set(s.ficheId, g);
  }
  return [...groups.values()];
}

/** What the fiche's page shows of the communes' answers (and, to a commune's staff, the forms to answer). */
export interface CommuneAnswersPage {
  /** 'team': the project team's (and committee's) view of every commune; 'commune': a commune's staff, their own. */
  view: 'team' | 'commune';
  /** A commune's staff may answer (the homologation is not read-only). */
  canAnswer: boolean;
  communeName: string | null;
  /** The steps "à mener par les communes". */
  steps: (StepRow & { phrase: string | null; details: { commune: string; status: Status }[] })[];
  /** The strong side effects and the communes' answers; null when the fiche has none. */
  effects: null | {
    current: string[];
    lines: ReturnType<typeof answerLines>;
    summary: string;
    own: ReturnType<typeof ownAnswer> | null;
    values: AnswerValues | null;
  };
  /** The note form of a commune's staff. */
  note: { values: { body: string }; errors: FieldErrors } | null;
  retour: string;
}

export async function communeAnswersOfPage(ctx: AppContext, fiche: FicheDetail, scope: Scope, _actor: Actor): Promise<{ communeAnswers: CommuneAnswersPage | null }> {
  const forCommunes = fiche.steps.filter((s) => s.forCommunes);
  const current = strongEffects(fiche.sideEffects);
  const communeId = scope.restriction;
  if (communeId === null) {
    if (!forCommunes.length && !current.length) return { communeAnswers: null };
    const [concerned, statuses, answers] = await Promise.all([
      concernedCommunes(ctx.db, [fiche.id]),
      communeStepStatuses(ctx.db, forCommunes.map((s) => s.id), null),
      current.length ? sideEffectAnswers(ctx.db, [fiche.id]) : Promise.resolve([]),
    ]);
    const list = concerned.get(fiche.id) ?? [];
    const byStep = new Map<number, Map<number, CommuneStepStatus>>();
    for (const s of statuses) byStep.set(s.stepId, (byStep.get(s.stepId) ?? new Map()).set(s.communeId, s));
    const lines = answerLines(list, answers, current);
    return {
      communeAnswers: {
        view: 'team', canAnswer: false, communeName: null, note: null, retour: '',
        steps: forCommunes.map((s) => {
          const own = byStep.get(s.id) ?? new Map<number, CommuneStepStatus>();
          const details = list.map((c) => ({ commune: c.name, status: own.get(c.id)?.status ?? 'non_demarre' as Status }));
          return {
            id: s.id, position: s.position, label: s.label, status: s.status, current: s.status, version: 0,
            phrase: communeStepsPhrase(details.filter((d) => d.status === 'fait').length, details.length), details,
          };
        }),
        effects: current.length ? { current, lines, summary: answersSummary(lines), own: null, values: null } : null,
      },
    };
  }
  const [commune, statuses, answers] = await Promise.all([
    communes.get(ctx.db, communeId),
    communeStepStatuses(ctx.db, forCommunes.map((s) => s.id), communeId),
    current.length ? sideEffectAnswers(ctx.db, [fiche.id], communeId) : Promise.resolve([]),
  ]);
  const byStep = new Map(statuses.map((s) => [s.stepId, s]));
  const own = current.length ? ownAnswer(answers[0], current) : null;
  return {
    communeAnswers: {
      view: 'commune', canAnswer: !scope.readOnly, communeName: commune?.name ?? null, retour: '',
      steps: forCommunes.map((s) => {
        const now = byStep.get(s.id);
        const status = now?.status ?? 'non_demarre';
        return { id: s.id, position: s.position, label: s.label, status, current: status, version: now?.version ?? 0, phrase: null, details: [] };
      }),
      effects: own ? { current, lines: [], summary: '', own, values: answerValuesOf(own, current) } : null,
      note: scope.readOnly ? null : { values: { body: '' }, errors: {} },
    },
  };
}
