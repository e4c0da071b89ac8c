import { type Request, type Response, Router } from 'express';
import { IcsError, meetingIcs } from '../../agenda/ics';
import { preparePdf, renderAgendaPdf } from '../../agenda/pdf';
import type { IdentityLocals } from '../identity';
import { listFiches } from '../../data/fiches';
import {
  addDecision, createMeeting, getMeeting, listDecisions, listMeetings, listSignatures, type Meeting, meetingFiches, recordSignature, setRecord, updateMeeting,
} from '../../data/meetings';
import { communes, teams } from '../../data/referentials';
import { listUsers } from '../../data/users';
import { type Agenda, moveSection, normaliseOrder, restrictAgenda, SECTION_TITLES } from '../../domain/agenda';
import { agendaOf, coveredFicheIds, holdMeetingNow, liveAgenda } from '../../services/agenda';
import { agendaWindow, detailedNumbers, readAgendaPage, readFicheNumber, sectionsOfPage } from '../../domain/agenda-pages';
import { withAcceptedRisks } from '../../services/risk-committee';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { forbidden, HttpError, idParam } from '../errors';
import { belongs, READ_ONLY_MESSAGE, requireEdit, scopeOf } from '../scope';
import { type FieldErrors, parseForm, str } from '../forms/fields';
import { type DecisionFormValues, emptyDecisionValues, readDecisionForm, validateDecision, withOneMoreRow } from '../forms/decision';
import { OUTCOME_LABELS, OUTCOMES } from '../../domain/homologation';
import { localInstant } from '../../domain/local-time';
import {
  BLANK_GUESTS, emptyMeetingValues, guestRowsButton, type MeetingFormValues, meetingToValues, readMeetingDecision, readMeetingForm, readSectionMove, recordForm, validateMeeting,
} from '../forms/meeting';
import { notify } from '../notice';
import { evidenceOfPage } from './evidence';

const HELD = new HttpError(409, "Cette séance a été tenue : son ordre du jour est figé et ne peut plus être modifié. Les décisions et le relevé restent modifiables.");

export function meetingsRouter(ctx: AppContext): Router {
  const router = Router();
  const canEdit = requireEdit;

  /**
   * The meeting as the signed-in user may see it: one of this homologation's (another's is a 404), and for a commune
   * agent only those covering one of its fiches.
   */
  async function visibleMeeting(req: Request, res: Response): Promise<Meeting> {
    const meeting = belongs(res, await getMeeting(ctx.db, idParam(req.params.id, 'Cette séance')), 'Cette séance');
    const { restriction } = scopeOf(res);
    // a commune's staff: a meeting about none of the fiches they may see is not theirs
    if (restriction !== null && (await meetingFiches(ctx.db, meeting, restriction)).length === 0) throw forbidden();
    return meeting;
  }

  /** What a commune's staff may read of an agenda (see restrictAgenda); null for everyone else, who read it whole. */
  async function readerOf(res: Response): Promise<Parameters<typeof restrictAgenda>[1]> {
    const { restriction, hom: plan } = scopeOf(res);
    if (restriction === null) return null;
    const [fiches, commune] = await Promise.all([listFiches(ctx.db, plan.id, restriction), communes.get(ctx.db, restriction)]);
    return { ficheIds: new Set(fiches.map((f) => f.id)), communeName: commune?.name ?? null, communeId: restriction };
  }

  /** What of the agenda the signed-in user may read (see restrictAgenda). */
  async function readable(res: Response, agenda: Agenda): Promise<Agenda> {
    return restrictAgenda(agenda, await readerOf(res));
  }

  async function formRefs(res: Response) {
    const plan = scopeOf(res).hom;
    const [fiches, users] = await Promise.all([listFiches(ctx.db, plan.id, null), listUsers(ctx.db)]);
    return { plan, fiches, users: users.filter((u) => u.active) };
  }

  async function renderForm(res: Response, status: number, o: { meeting?: Meeting; values: MeetingFormValues; errors?: FieldErrors; alert?: string; extraGuests?: number }) {
    const { fiches, users } = await formRefs(res);
    const extraGuests = o.extraGuests ?? BLANK_GUESTS;
    res.status(status).render('meetings/form', {
      title: o.meeting ? `Modifier la séance « ${o.meeting.title} »` : 'Nouvelle séance',
      meeting: o.meeting ?? null, values: o.values, errors: o.errors ?? {}, alert: o.alert ?? null, fiches, users, extraGuests,
    });
  }

  async function validate(res: Response, values: MeetingFormValues) {
    const { plan, fiches, users } = await formRefs(res);
    return validateMeeting(values, { ficheIds: new Set(fiches.map((f) => f.id)), users: new Map(users.map((u) => [u.id, u])), organisation: plan.organisation, timeZone: ctx.config.mail.timeZone });
  }

  router.get('/seances', async (req, res) => {
    const { hom: plan, restriction } = scopeOf(res);
    const visible = restriction === null ? null : (await listFiches(ctx.db, plan.id, restriction)).map((f) => f.id);
    const [meetings, signatures] = await Promise.all([listMeetings(ctx.db, plan.id, visible), listSignatures(ctx.db, plan.id)]);
    res.render('meetings/index', {
      ...(await evidenceOfPage(ctx, plan.id, { decision: restriction === null ? signatures.map((s) => s.id) : [] })),
      title: 'Séances du comité de pilotage', meetings, canEdit: scopeOf(res).canEdit,
      signatures: await withAcceptedRisks(ctx.db, restriction === null ? signatures : signatures.map((s) => ({ ...s, conditions: '' })), restriction),
    });
  });

  router.get('/seances/nouvelle', canEdit, async (_req, res) => renderForm(res, 200, { values: emptyMeetingValues() }));

  router.post('/seances', canEdit, async (req, res) => {
    const values = readMeetingForm(req.body);
    const extraGuests = guestRowsButton(req.body, values);
    if (extraGuests !== null) return renderForm(res, 200, { values, extraGuests });
    const v = await validate(res, values);
    if (!v.ok) return renderForm(res, 422, { values, errors: v.errors });
    const { hom: plan, base } = scopeOf(res);
    const id = await createMeeting(ctx.db, plan.id, v.input, actor(req), ctx.now());
    notify(req, `La séance « ${v.input.title} » est créée.`);
    res.redirect(303, `${base}/seances/${id}`);
  });

  router.get('/seances/:id', async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    await renderMeeting(req, res, meeting, 200);
  });

  async function renderMeeting(req: Request, res: Response, meeting: Meeting, status: number, forms: { decision?: { values: Record<string, string>; errors: FieldErrors }; signature?: { values: DecisionFormValues; errors: FieldErrors; alert?: string }; record?: { value: string; errors: FieldErrors } } = {}) {
    const scope = scopeOf(res);
    const plan = scope.hom;
    const agenda = await readable(res, await agendaOf(ctx.db, plan, meeting, ctx.now()));
    const visibleFiches = new Set(agenda.sections.flatMap((s) => (s.key === 'fiche' ? [s.fiche.ficheId] : [])));
    const [decisions, allSignatures, teamList] = await Promise.all([
      listDecisions(ctx.db, meeting.id), listSignatures(ctx.db, plan.id), meeting.kind === 'signature' ? teams.list(ctx.db) : Promise.resolve([]),
    ]);
    const signatures = await withAcceptedRisks(ctx.db, allSignatures.filter((s) => s.meetingId === meeting.id), scope.restriction);
    // an agenda read on several pages: the changes since the previous meeting are summed up here, each fiche linked to its detail
    const pages = agendaWindow(detailedNumbers(agenda), 1);
    preparePdf(res.locals.identity as IdentityLocals);
    res.status(status).render('meetings/show', {
      title: meeting.title, meeting, agenda, decisions: decisions.filter((d) => d.ficheId === null || visibleFiches.has(d.ficheId)),
      agendaPaged: pages.pages > 1,
      ficheHref: (number: number) => {
        const page = pages.pageOf.get(number);
        return `${scope.base}/seances/${meeting.id}/ordre-du-jour${page !== undefined && page > 1 ? `?page=${page}` : ''}#fiche-${number}`;
      },
      // a commune's staff read the conditions they may see in the agenda, not the decision's full text
      signatures: signatures.map((s) => (scope.restriction === null ? s : { ...s, conditions: '' })),
      order: normaliseOrder(meeting.sectionOrder), SECTION_TITLES,
      canEdit: scopeOf(res).canEdit,
      decision: forms.decision ?? { values: { ficheId: '', text: '' }, errors: {} },
      signature: forms.signature ?? { values: emptyDecisionValues(meeting.startsAt.slice(0, 10)), errors: {} },
      teams: teamList, OUTCOMES, OUTCOME_LABELS, readOnly: scope.readOnly, archived: scope.hom.archivedAt !== null,
      record: forms.record ?? { value: meeting.record, errors: {} },
    });
  }

  router.get('/seances/:id/modifier', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    if (meeting.heldAt) throw HELD;
    await renderForm(res, 200, { meeting, values: meetingToValues(meeting) });
  });

  router.post('/seances/:id', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    if (meeting.heldAt) throw HELD;
    const values = readMeetingForm(req.body);
    const extraGuests = guestRowsButton(req.body, values);
    if (extraGuests !== null) return renderForm(res, 200, { meeting, values, extraGuests });
    const v = await validate(res, values);
    if (!v.ok) return renderForm(res, 422, { meeting, values, errors: v.errors });
    const result = await updateMeeting(ctx.db, meeting.id, v.version, v.input, actor(req), ctx.now());
    if (result === 'held') throw HELD;
    if (result === 'conflict') {
      return renderForm(res, 409, { meeting, values, alert: "Cette séance a été modifiée par quelqu'un d'autre depuis que vous avez ouvert ce formulaire. Vos modifications n'ont pas été enregistrées ; elles restent affichées ci-dessous." });
    }
    notify(req, `La séance « ${meeting.title} » est enregistrée.`);
    res.redirect(303, `${scopeOf(res).base}/seances/${meeting.id}`);
  });

  router.post('/seances/:id/ordre', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    if (meeting.heldAt) throw HELD;
    const order = normaliseOrder(meeting.sectionOrder);
    const move = readSectionMove(req.body, order);
    if (!move) throw new HttpError(400, 'Déplacement de section inconnu.');
    const result = await updateMeeting(ctx.db, meeting.id, meeting.version, { sectionOrder: moveSection(order, move.key, move.direction) }, actor(req), ctx.now());
    if (result === 'held') throw HELD;
    notify(req, "L'ordre des sections est enregistré.");
    res.redirect(303, `${scopeOf(res).base}/seances/${meeting.id}#ordre`);
  });

  // Holding is final (the agenda is frozen): a page says so, and warns when the meeting has not taken place yet.
  router.get('/seances/:id/tenir', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    if (meeting.heldAt) throw HELD;
    res.render('meetings/hold', { title: `Tenir la séance « ${meeting.title} »`, meeting, future: meeting.startsAt.slice(0, 10) > scopeOf(res).today });
  });

  router.post('/seances/:id/tenir', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    if (meeting.heldAt) throw HELD;
    if (!(await holdMeetingNow(ctx.db, scopeOf(res).hom, meeting, actor(req), ctx.now()))) throw HELD;
    notify(req, `La séance « ${meeting.title} » est tenue : son ordre du jour est figé.`);
    res.redirect(303, `${scopeOf(res).base}/seances/${meeting.id}`);
  });

  router.post('/seances/:id/decisions', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    const form = readMeetingDecision(req.body, await coveredFicheIds(ctx.db, meeting));
    if (!form.ok) return renderMeeting(req, res, meeting, 422, { decision: { values: form.values, errors: form.errors } });
    await addDecision(ctx.db, meeting.id, form.data.ficheId, form.data.text, actor(req), ctx.now());
    notify(req, 'La décision est enregistrée.');
    res.redirect(303, `${scopeOf(res).base}/seances/${meeting.id}#decisions`);
  });

  router.post('/seances/:id/releve', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    const form = parseForm(recordForm, req.body);
    if (!form.ok) return renderMeeting(req, res, meeting, 422, { record: { value: form.values.record, errors: form.errors } });
    await setRecord(ctx.db, meeting.id, form.data.record, actor(req), ctx.now());
    notify(req, 'Le relevé de décisions est enregistré.');
    res.redirect(303, `${scopeOf(res).base}/seances/${meeting.id}#releve`);
  });

  router.post('/seances/:id/signature', canEdit, async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    if (meeting.kind !== 'signature') throw new HttpError(400, "Seule une séance de signature peut porter la décision d'homologation.");
    const body = req.body as Record<string, unknown>;
    const values = readDecisionForm(body);
    // "Ajouter une condition": the form again with one more row, nothing saved (works without JavaScript)
    if (str(body._action) === 'add_condition') return renderMeeting(req, res, meeting, 200, { signature: { values: withOneMoreRow(values), errors: {} } });
    const v = validateDecision(values, { teamIds: new Set((await teams.list(ctx.db)).map((t) => t.id)) });
    if (!v.ok) return renderMeeting(req, res, meeting, 422, { signature: { values, errors: v.errors } });
    const scope = scopeOf(res);
    const saved = await recordSignature(ctx.db, meeting.planId, meeting.id, v.input, actor(req), ctx.now(), scope.today);
    if (!saved.ok) {
      if (saved.reason === 'not_found') throw new HttpError(404, "Cette homologation n'existe pas ou n'existe plus.");
      return renderMeeting(req, res, meeting, 409, { signature: { values, errors: {}, alert: READ_ONLY_MESSAGE } });
    }
    notify(req, "La décision d'homologation est enregistrée.");
    res.redirect(303, `${scope.base}/seances/${meeting.id}#signature`);
  });

  // The agenda on screen, a page at a time (AGENDA_FICHES_PER_PAGE fiches detailed a page); the PDF is the whole of it.
  router.get('/seances/:id/ordre-du-jour', async (req, res) => {
    const asked = readAgendaPage(req.query.page);
    if ('error' in asked) throw new HttpError(400, asked.error);
    const meeting = await visibleMeeting(req, res);
    const { hom: plan, restriction, base } = scopeOf(res);
    const reader = await readerOf(res);
    const address = `${base}/seances/${meeting.id}/ordre-du-jour`;
    // a held meeting: its frozen agenda as the reader may read it; a live one: the fiches it details for this reader,
    // only this page's read and detailed
    const frozen = meeting.snapshot ? restrictAgenda(meeting.snapshot, reader) : null;
    const outline = frozen ? null : await meetingFiches(ctx.db, meeting, restriction);
    const numbers = frozen ? detailedNumbers(frozen) : outline!.map((f) => f.number);
    const window = agendaWindow(numbers, asked.page);

    // « Aller à la fiche » : the page detailing it, at its heading
    let jump: { value: string; error: string | null } = { value: '', error: null };
    if (typeof req.query.fiche === 'string') {
      const number = readFicheNumber(req.query.fiche);
      const target = number === null ? undefined : window.pageOf.get(number);
      if (target !== undefined) return res.redirect(303, `${address}${target > 1 ? `?page=${target}` : ''}#fiche-${number}`);
      jump = {
        value: req.query.fiche.slice(0, 20),
        error: number === null ? 'Saisissez le numéro de la fiche, par exemple 12.' : `La fiche n°${number} n'est pas détaillée dans cet ordre du jour.`,
      };
      res.status(number === null ? 400 : 404);
    }

    let agenda: Agenda;
    if (frozen) agenda = frozen;
    else {
      const own = new Set(window.numbers);
      const only = new Set(outline!.filter((f) => own.has(f.number)).map((f) => f.id));
      agenda = restrictAgenda(await liveAgenda(ctx.db, plan, meeting, ctx.now(), { outline: outline!, only }), reader);
    }
    preparePdf(res.locals.identity as IdentityLocals);
    const pageHref = (n: number) => `${address}${n > 1 ? `?page=${n}` : ''}`;
    res.render('meetings/agenda', {
      title: window.pages > 1 ? `Ordre du jour — ${meeting.title} — page ${window.page} sur ${window.pages}` : `Ordre du jour — ${meeting.title}`,
      meeting, agenda: { ...agenda, sections: sectionsOfPage(agenda, window, normaliseOrder(meeting.sectionOrder)) }, window, jump, address, pageHref,
      // a fiche's detail, on this page or another (an address relative to this one: 500 of them on the first page)
      ficheHref: (number: number) => {
        const page = window.pageOf.get(number);
        if (page === undefined) return null;
        return page === window.page ? `#fiche-${number}` : `?page=${page}#fiche-${number}`;
      },
    });
  });

  router.get('/seances/:id/ordre-du-jour.pdf', async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    const plan = scopeOf(res).hom;
    const pdf = await renderAgendaPdf(await readable(res, await agendaOf(ctx.db, plan, meeting, ctx.now())), res.locals.identity as IdentityLocals);
    res.type('application/pdf').set('Content-Disposition', `inline; filename="ordre-du-jour-${meeting.startsAt.slice(0, 10)}.pdf"`).send(pdf);
  });

  router.get('/seances/:id/invitation.ics', async (req, res) => {
    const meeting = await visibleMeeting(req, res);
    const plan = scopeOf(res).hom;
    // read in the plan's time zone as calendars read it (a time the clocks skipped, saved before the form refused
    // them, is taken with the offset before the change); what cannot make an invitation is said, not a crash
    const instant = (local: string) => localInstant(local, ctx.config.mail.timeZone)?.instant ?? new Date(Number.NaN);
    let ics: string;
    try {
      ics = meetingIcs({
        uid: `seance-${meeting.id}-plan-${plan.id}@plan-action-rgs`,
        title: `${meeting.title} — ${plan.title}`,
        description: meeting.objective,
        start: instant(meeting.startsAt),
        end: instant(meeting.endsAt),
        location: [meeting.place, meeting.visioUrl].filter(Boolean).join(' — '),
        url: meeting.visioUrl || undefined,
        attendees: meeting.attendees.map((a) => ({ name: a.organisation ? `${a.name} (${a.organisation})` : a.name })),
      });
    } catch (err) {
      if (!(err instanceof IcsError)) throw err;
      throw new HttpError(409, `L'invitation de cette séance ne peut pas être produite (${err.message}). Modifiez la séance : vérifiez sa date et ses heures (une heure sautée au passage à l'heure d'été n'existe pas).`);
    }
    res.type('text/calendar; charset=utf-8').set('Content-Disposition', `attachment; filename="seance-${meeting.startsAt.slice(0, 10)}.ics"`).send(ics);
  });

  return router;
}
