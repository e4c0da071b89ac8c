import { createHash, randomBytes } from 'node:crypto';
import { format } from 'date-fns/format';
import { type Request, type Response, Router } from 'express';
import type { EventAttributes } from 'ics';
import {
  actionsDigestOf, fichesOfMyTeams, hasIcsToken, setActionsDigest, setAssignedStepStatus, setIcsTokenHash, userByIcsTokenHash,
} from '../../data/my-actions';
import { acknowledgeLateStep } from '../../data/step-notices';
import { assigneeOf, assigneeOptions, type AssignedStep, listPeople, pendingHandovers, reassignOpenSteps, removePerson, savePerson, stepsAssignedTo } from '../../data/people';
import { isStatus, STATUS_LABELS, STATUSES } from '../../domain/statuses';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { idParam, notFound } from '../errors';
import { type FieldErrors, str } from '../forms/fields';
import { notify } from '../notice';
import { z } from 'zod';
import { emailAddress, fieldErrors, optionalText, requiredText } from '../forms/fields';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** The feed's file name: its token (256 random bits, base64url) and .ics. */
const FEED_FILE = /^([A-Za-z0-9_-]{43})\.ics$/;
const DIGESTS = { none: 'Aucun', daily: 'Chaque jour', weekly: 'Chaque semaine (le lundi)' } as const;

/** Late first, then by the date they are due (undated last), then by homologation and fiche. */
export function byUrgency(steps: readonly AssignedStep[], today: string): (AssignedStep & { late: boolean })[] {
  return steps.map((s) => ({ ...s, late: s.status !== 'fait' && s.due !== null && s.due < today }))
    .sort((a, b) => Number(b.late) - Number(a.late) || (a.due ?? '9999').localeCompare(b.due ?? '9999') || a.planId - b.planId || a.ficheNumber - b.ficheNumber || a.position - b.position);
}

/** The calendar feed of an account's dates: public, the token in its address is the credential (revocable). */
export function myActionsFeedRouter(ctx: AppContext): Router {
  const router = Router();
  router.get('/calendrier/:file', async (req, res) => {
    const token = FEED_FILE.exec(String(req.params.file))?.[1];
    const user = token ? await userByIcsTokenHash(ctx.db, sha256(token)) : undefined;
    if (!user) throw notFound('Ce calendrier (son lien a pu être renouvelé ou retiré)');
    const steps = (await stepsAssignedTo(ctx.db, { userId: user.id }, { openOnly: true })).filter((s) => s.due !== null);
    const events: EventAttributes[] = steps.map((s) => {
      const [y, m, d] = s.due!.split('-').map(Number) as [number, number, number];
      const next = new Date(Date.UTC(y, m - 1, d + 1));
      return {
        uid: `etape-${s.id}@plan-homologation`, title: `Fiche n°${s.ficheNumber} — ${s.label}`,
        description: `${s.planTitle}\nFiche n°${s.ficheNumber} : ${s.ficheTitle}\nÉtat : ${STATUS_LABELS[s.status]}`,
        start: [y, m, d], end: [next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()],
      };
    });
    // ics (and its validation library) loaded with the first feed read, not at the server's start
    const { error, value } = events.length ? (await import('ics')).createEvents(events) : { error: null, value: 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:plan-homologation\r\nEND:VCALENDAR\r\n' };
    if (error || !value) throw new Error(`Calendrier impossible : ${String(error)}`);
    res.type('text/calendar; charset=utf-8').set({ 'Cache-Control': 'private, no-store', 'Content-Disposition': 'inline; filename="mes-actions.ics"' }).send(value);
  });
  return router;
}

const personSchema = z.object({
  name: requiredText(150, 'Saisissez le nom de la personne.'),
  email: emailAddress('Saisissez son adresse électronique : les rappels de ses actions y sont envoyés.'),
  function: optionalText(150),
});

/** "Mes actions": a signed-in user's steps across homologations; and the named people without an account. */
export function myActionsRouter(ctx: AppContext): Router {
  const router = Router();
  const today = () => format(ctx.now(), 'yyyy-MM-dd');

  const render = async (req: Request, res: Response, status = 200, extra: { errors?: FieldErrors; feedUrl?: string } = {}) => {
    const me = actor(req);
    const [steps, fiches, digest, feed] = await Promise.all([
      stepsAssignedTo(ctx.db, { userId: me.id }), fichesOfMyTeams(ctx.db, me.id), actionsDigestOf(ctx.db, me.id), hasIcsToken(ctx.db, me.id),
    ]);
    const filter = { homologation: str(req.query.homologation), etat: str(req.query.etat) || 'ouvertes', retard: str(req.query.retard) === '1' };
    const sorted = byUrgency(steps, today());
    const shown = sorted.filter((s) => (filter.etat === 'toutes' || s.status !== 'fait')
      && (filter.homologation === '' || String(s.planId) === filter.homologation) && (!filter.retard || s.late));
    const homologations = [...new Map(steps.map((s) => [s.planId, s.planTitle])).entries()].map(([id, title]) => ({ id, title }));
    res.status(status).render('my-actions/index', {
      title: 'Mes actions', steps: shown, total: steps.length, lateCount: sorted.filter((s) => s.late).length, filter, homologations,
      // the team's fiches: late ones first, then by date
      fiches: [...fiches].sort((a, b) => Number(b.targetDate !== null && b.targetDate < today()) - Number(a.targetDate !== null && a.targetDate < today())
        || (a.targetDate ?? '9999').localeCompare(b.targetDate ?? '9999') || a.number - b.number),
      digest, DIGESTS, feed, feedUrl: extra.feedUrl ?? null, errors: extra.errors ?? {}, today: today(),
      statusOptions: STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] })), STATUS_LABELS,
    });
  };

  router.get('/mes-actions', (req, res) => render(req, res));

  router.post('/mes-actions/etapes/:id', async (req, res) => {
    const id = idParam(req.params.id, 'Cette action');
    const status = str(req.body.status);
    const note = str(req.body.note).trim();
    const errors: FieldErrors = {};
    if (!isStatus(status)) errors[`step-${id}-status`] = 'Choisissez un état dans la liste.';
    if (note.length > 2000) errors[`step-${id}-note`] = '2 000 caractères au maximum.';
    if (Object.keys(errors).length || !isStatus(status)) return render(req, res, 422, { errors });
    const me = actor(req);
    const result = await setAssignedStepStatus(ctx.db, id, { userId: me.id }, { status, note, requireJustification: false }, me, ctx.now());
    if (!result.ok) {
      if (result.reason === 'not_assigned') throw notFound('Cette action (elle a pu être confiée à quelqu’un d’autre)');
      return render(req, res, 409, { errors: { [`step-${id}-status`]: result.reason === 'read_only'
        ? 'Cette homologation est archivée : ses actions ne changent plus.'
        : 'Une action faite demande ici une pièce justificative ou une justification : écrivez-la dans la note.' } });
    }
    notify(req, `L'action est enregistrée : ${STATUS_LABELS[status]}.`);
    res.redirect(303, '/mes-actions');
  });

  /** Acknowledging a late step, as a late fiche's alert: no more reminders for its current date. */
  router.post('/mes-actions/etapes/:id/retard-vu', async (req, res) => {
    const id = idParam(req.params.id, 'Cette action');
    if (!(await acknowledgeLateStep(ctx.db, id, actor(req).id, ctx.now()))) throw notFound('Cette action (ou son retard, déjà noté)');
    notify(req, "Le retard est noté : vous ne recevrez plus de rappel pour cette date. Pensez à mettre l'action à jour.");
    res.redirect(303, '/mes-actions');
  });

  router.post('/mes-actions/resume', async (req, res) => {
    const choice = str(req.body.digest);
    if (choice !== 'none' && choice !== 'daily' && choice !== 'weekly') return render(req, res, 422, { errors: { digest: 'Choisissez une fréquence dans la liste.' } });
    await setActionsDigest(ctx.db, actor(req).id, choice);
    notify(req, choice === 'none' ? 'Vous ne recevrez plus de récapitulatif de vos actions.' : `Récapitulatif de vos actions : ${DIGESTS[choice].toLowerCase()}.`);
    res.redirect(303, '/mes-actions');
  });

  router.post('/mes-actions/calendrier', async (req, res) => {
    const token = randomBytes(32).toString('base64url');
    await setIcsTokenHash(ctx.db, actor(req).id, sha256(token));
    // shown once: only its hash is kept
    await render(req, res, 200, { feedUrl: `${req.protocol}://${req.get('host')}/calendrier/${token}.ics` });
  });

  router.post('/mes-actions/calendrier/retirer', async (req, res) => {
    await setIcsTokenHash(ctx.db, actor(req).id, null);
    notify(req, "Le lien de votre calendrier est retiré : l'agenda qui l'utilisait ne reçoit plus vos dates.");
    res.redirect(303, '/mes-actions');
  });

  // ── named people without an account (the project team names them as responsible for steps)
  const edit = requirePermission('fiche:edit');
  const renderPeople = async (res: Response, status = 200, form?: { id: number | null; values: Record<string, string>; errors: FieldErrors }) => {
    res.status(status).render('people/list', { title: 'Personnes sans compte', people: await listPeople(ctx.db), form: form ?? { id: null, values: { name: '', email: '', function: '' }, errors: {} } });
  };
  router.get('/personnes', edit, (_req, res) => renderPeople(res));
  router.get('/personnes/:id', edit, async (req, res) => {
    const id = idParam(req.params.id, 'Cette personne');
    const person = (await listPeople(ctx.db)).find((p) => p.id === id);
    if (!person) throw notFound('Cette personne');
    await renderPeople(res, 200, { id, values: { name: person.name, email: person.email, function: person.function }, errors: {} });
  });
  const save = async (req: Request, res: Response, id: number | null) => {
    const values = { name: str(req.body.name), email: str(req.body.email), function: str(req.body.function) };
    const parsed = personSchema.safeParse(values);
    if (!parsed.success) return renderPeople(res, 422, { id, values, errors: fieldErrors(parsed.error) });
    const result = await savePerson(ctx.db, id, parsed.data, actor(req), ctx.now());
    if (!result.ok && result.reason === 'not_found') throw notFound('Cette personne');
    if (!result.ok) return renderPeople(res, 409, { id, values, errors: { email: 'Une personne a déjà cette adresse électronique.' } });
    notify(req, `${parsed.data.name} est enregistré(e).`);
    res.redirect(303, '/personnes');
  };
  router.post('/personnes', edit, (req, res) => save(req, res, null));
  router.post('/personnes/:id', edit, (req, res) => save(req, res, idParam(req.params.id, 'Cette personne')));
  router.post('/personnes/:id/supprimer', edit, async (req, res) => {
    const result = await removePerson(ctx.db, idParam(req.params.id, 'Cette personne'), actor(req), ctx.now());
    if (!result.ok && result.reason === 'not_found') throw notFound('Cette personne');
    notify(req, result.ok ? 'La personne est retirée de la liste.' : 'Cette personne est responsable d’actions : confiez-les à quelqu’un d’autre avant de la retirer.');
    res.redirect(303, '/personnes');
  });

  // ── handing over the open steps of someone who left (administrators)
  const admin = requirePermission('admin');
  const renderHandovers = async (res: Response, status = 200, errors: FieldErrors = {}) => {
    const [handovers, options] = await Promise.all([pendingHandovers(ctx.db), assigneeOptions(ctx.db)]);
    res.status(status).render('people/handover', { title: 'Passation des actions', handovers, options, errors });
  };
  router.get('/passations', admin, (_req, res) => renderHandovers(res));
  router.post('/passations', admin, async (req, res) => {
    const fromValue = str(req.body.from);
    const from = assigneeOf(fromValue);
    const to = assigneeOf(str(req.body.to));
    const options = new Set((await assigneeOptions(ctx.db)).map((o) => o.value));
    if (!from) throw notFound('Ce responsable');
    if (!to || !options.has(str(req.body.to)) || str(req.body.to) === fromValue) {
      return renderHandovers(res, 422, { [`to-${fromValue}`]: 'Choisissez dans la liste la personne à qui confier ces actions (un compte actif ou une personne sans compte).' });
    }
    const count = await reassignOpenSteps(ctx.db, from, to, actor(req), ctx.now());
    notify(req, count ? `${count} action(s) confiée(s).` : "Plus aucune action n'était ouverte : rien n'a changé.");
    res.redirect(303, '/passations');
  });

  return router;
}
