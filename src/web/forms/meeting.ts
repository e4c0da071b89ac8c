import { z } from 'zod';
import type { Meeting, MeetingInput } from '../../data/meetings';
import type { OrderKey } from '../../domain/agenda';
import { localInstant } from '../../domain/local-time';
import { type FieldErrors, fieldErrors, isoDate, optionalText, parseForm, requiredText, rows, str, strings } from './fields';

export interface MeetingFormValues {
  version: string;
  title: string;
  kind: string;
  date: string;
  startTime: string;
  endTime: string;
  place: string;
  visioUrl: string;
  objective: string;
  reminder: string;
  questions: string;
  /** 'all' or 'part' once valid; any other value is kept as sent and refused (never read as 'all'). */
  coverage: string;
  ficheIds: string[];
  userIds: string[];
  guests: { name: string; organisation: string }[];
}

export function emptyMeetingValues(): MeetingFormValues {
  return {
    version: '', title: 'Comité de pilotage', kind: 'suivi', date: '', startTime: '14:00', endTime: '16:00', place: '', visioUrl: '',
    objective: "Présentation et échange sur le plan d'action RGS à déployer en vue de l'homologation.", reminder: '', questions: '',
    coverage: 'all', ficheIds: [], userIds: [], guests: [],
  };
}

export function meetingToValues(m: Meeting): MeetingFormValues {
  return {
    version: String(m.version), title: m.title, kind: m.kind, date: m.startsAt.slice(0, 10), startTime: m.startsAt.slice(11, 16),
    endTime: m.endsAt.slice(11, 16), place: m.place, visioUrl: m.visioUrl, objective: m.objective, reminder: m.reminder, questions: m.questions,
    coverage: m.coversAll ? 'all' : 'part', ficheIds: m.ficheIds.map(String),
    userIds: m.attendees.flatMap((a) => (a.userId ? [String(a.userId)] : [])),
    guests: m.attendees.filter((a) => !a.userId).map((a) => ({ name: a.name, organisation: a.organisation })),
  };
}

export function readMeetingForm(body: Record<string, unknown>): MeetingFormValues {
  return {
    version: str(body.version), title: str(body.title), kind: str(body.kind), date: str(body.date), startTime: str(body.startTime),
    endTime: str(body.endTime), place: str(body.place), visioUrl: str(body.visioUrl), objective: str(body.objective),
    reminder: str(body.reminder), questions: str(body.questions), coverage: str(body.coverage),
    ficheIds: strings(body.ficheIds), userIds: strings(body.userIds),
    guests: rows(body.guests).map((r) => ({ name: str(r.name), organisation: str(r.organisation) })).filter((g) => g.name.trim() || g.organisation.trim()),
  };
}

/** The blank guest rows a fresh form offers. */
export const BLANK_GUESTS = 3;

/**
 * The "add rows" button of the guests, which redraws the form without saving it: the number of blank rows to show
 * (at least as many rows as the page had plus three, whatever the user filled in, so the row after the page's
 * last is blank and the button's fragment, written when the page was drawn, lands on it), or null when the button pressed was "save" (or none).
 */
export function guestRowsButton(body: Record<string, unknown>, values: MeetingFormValues): number | null {
  if (str(body._action) !== 'add_guests') return null;
  const shown = Math.min(rows(body.guests).length, 200);
  return Math.min(Math.max(shown + BLANK_GUESTS - values.guests.length, BLANK_GUESTS), 200);
}

const time = (missing: string) => z.string().trim().min(1, { error: missing }).regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: "Saisissez une heure, par exemple 14:00." });

const schema = z.object({
  title: requiredText(200, "Saisissez l'intitulé de la séance."),
  kind: z.enum(['suivi', 'signature'], { error: 'Choisissez le type de séance.' }),
  date: isoDate('Saisissez la date de la séance.'),
  startTime: time("Saisissez l'heure de début."),
  endTime: time("Saisissez l'heure de fin."),
  place: optionalText(300),
  visioUrl: z.string().trim().max(500).refine((v) => v === '' || /^https:\/\/\S+$/.test(v), { error: 'Saisissez un lien de visioconférence commençant par https://' }),
  objective: optionalText(5000),
  reminder: optionalText(5000),
  questions: optionalText(5000),
});

export type MeetingValidation = { ok: true; input: MeetingInput; version: number } | { ok: false; errors: FieldErrors };

export function validateMeeting(
  values: MeetingFormValues, refs: { ficheIds: Set<number>; users: Map<number, { name: string }>; organisation: string; timeZone: string },
): MeetingValidation {
  const parsed = schema.safeParse(values);
  const errors: FieldErrors = parsed.success ? {} : fieldErrors(parsed.error);
  if (parsed.success && parsed.data.endTime <= parsed.data.startTime) errors.endTime = "L'heure de fin doit être après l'heure de début.";
  if (parsed.success) {
    // a time the clocks skip (last Sunday of March in Paris, 02:00 to 03:00) is refused; a repeated one (last Sunday
    // of October, 02:00 to 03:00) is its first occurrence, in summer time, as calendars read it
    for (const field of ['startTime', 'endTime'] as const) {
      const found = localInstant(`${parsed.data.date}T${parsed.data[field]}`, refs.timeZone);
      if (!found) errors.date ??= 'Saisissez une date existante.';
      else if (found.gap) {
        const [y, mo, d] = parsed.data.date.split('-');
        errors[field] = `L'heure ${parsed.data[field]} n'existe pas le ${d}/${mo}/${y} (fuseau ${refs.timeZone}) : `
          + `au passage à l'heure d'été, les horloges passent de ${found.gap.from} à ${found.gap.to}. Choisissez une heure avant ${found.gap.from} ou à partir de ${found.gap.to}.`;
      }
    }
  }
  if (!parsed.success || !values.place.trim()) {
    if (!values.place.trim() && !values.visioUrl.trim()) errors.place ??= 'Indiquez un lieu ou un lien de visioconférence.';
  }
  const ficheIds = [...new Set(values.ficheIds.filter((v) => /^\d+$/.test(v)).map(Number))];
  if (values.coverage !== 'all' && values.coverage !== 'part') errors.ficheIds = 'Choisissez les fiches couvertes : toutes les fiches, ou une partie.';
  else if (values.coverage === 'part') {
    if (ficheIds.length === 0) errors.ficheIds = 'Cochez au moins une fiche, ou choisissez « Toutes les fiches ».';
    else if (ficheIds.some((id) => !refs.ficheIds.has(id))) errors.ficheIds = "Une des fiches cochées n'existe plus.";
  } else if (refs.ficheIds.size === 0) errors.ficheIds = "Le plan n'a encore aucune fiche : une séance doit en couvrir au moins une.";
  const userIds = [...new Set(values.userIds.filter((v) => /^\d+$/.test(v)).map(Number))];
  if (userIds.some((id) => !refs.users.has(id))) errors.userIds = "Un des participants cochés n'existe plus.";
  values.guests.forEach((g, i) => {
    if (!g.name.trim()) errors[`guests.${i}.name`] = 'Saisissez le nom de ce participant, ou videz la ligne.';
    else if (g.name.length > 200) errors[`guests.${i}.name`] = '200 caractères au maximum.';
    if (g.organisation.length > 200) errors[`guests.${i}.organisation`] = '200 caractères au maximum.';
  });
  if (!parsed.success || Object.keys(errors).length) return { ok: false, errors };
  const d = parsed.data;
  const version = Number(values.version);
  return {
    ok: true,
    version: Number.isInteger(version) ? version : 0,
    input: {
      title: d.title, kind: d.kind, startsAt: `${d.date}T${d.startTime}`, endsAt: `${d.date}T${d.endTime}`, place: d.place, visioUrl: d.visioUrl,
      objective: d.objective, reminder: d.reminder, questions: d.questions, coversAll: values.coverage === 'all',
      ficheIds: values.coverage === 'part' ? ficheIds : [],
      attendees: [
        ...userIds.map((id) => ({ userId: id, name: refs.users.get(id)!.name, organisation: refs.organisation })),
        ...values.guests.map((g) => ({ userId: null, name: g.name.trim(), organisation: g.organisation.trim() })),
      ],
    },
  };
}

// ---------------------------------------------------------------- the forms of a meeting's page

/** A decision of the meeting, on one of the fiches of its agenda or on none. */
export const meetingDecisionForm = z.object({
  ficheId: z.string().regex(/^(\d{1,9})?$/, { error: 'Choisissez une fiche dans la liste.' }).transform((v) => (v ? Number(v) : null)),
  text: requiredText(5000, 'Saisissez la décision.'),
});

export const NOT_ON_AGENDA = "Cette fiche n'est pas à l'ordre du jour de la séance.";

export type MeetingDecisionValidation =
  | { ok: true; data: z.output<typeof meetingDecisionForm>; values: { ficheId: string; text: string } }
  | { ok: false; errors: FieldErrors; values: { ficheId: string; text: string } };

/** Reads a decision; its fiche must be one the meeting covers. Error keys are prefixed "decision-" like the fields' ids. */
export function readMeetingDecision(body: unknown, coveredFicheIds: readonly number[]): MeetingDecisionValidation {
  const form = parseForm(meetingDecisionForm, body);
  const { values } = form;
  if (!form.ok) return { ok: false, values, errors: Object.fromEntries(Object.entries(form.errors).map(([k, v]) => [`decision-${k}`, v])) };
  if (form.data.ficheId !== null && !coveredFicheIds.includes(form.data.ficheId)) return { ok: false, values, errors: { 'decision-ficheId': NOT_ON_AGENDA } };
  return form;
}

/** The meeting's record (minutes), free text. */
export const recordForm = z.object({ record: optionalText(20000) });

/** The agenda's "move up/down" buttons ("fiche:up"): the section and the direction, or null if not one of the order's. */
export function readSectionMove(body: unknown, order: readonly OrderKey[]): { key: OrderKey; direction: 'up' | 'down' } | null {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const [key, direction] = str(source.move).split(':');
  if (!order.includes(key as OrderKey) || (direction !== 'up' && direction !== 'down')) return null;
  return { key: key as OrderKey, direction };
}
