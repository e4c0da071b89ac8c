import { z } from 'zod';
import type { ConditionInput, SignatureInput } from '../../data/meetings';
import { endDateOf, MAX_DURATION_MONTHS, OUTCOMES } from '../../domain/homologation';
import { emailAddress, type FieldErrors, fieldErrors, isoDate, requiredText, rows, str } from './fields';

/** One row of the conditions table, as typed. */
export interface ConditionRow { text: string; teamId: string; targetDate: string }

/** The decision form of a signature meeting, as typed (kept as is when refused). */
export interface DecisionFormValues {
  outcome: string;
  authority: string;
  authorityEmail: string;
  decidedOn: string;
  durationMonths: string;
  endsOn: string;
  conditions: ConditionRow[];
}

/** The rows shown empty before anything is typed; "Ajouter une condition" adds one. */
export const BLANK_CONDITION_ROWS = 3;
export const MAX_CONDITION_ROWS = 50;

const blankRow = (): ConditionRow => ({ text: '', teamId: '', targetDate: '' });

export function emptyDecisionValues(decidedOn: string): DecisionFormValues {
  return {
    outcome: '', authority: '', authorityEmail: '', decidedOn, durationMonths: String(MAX_DURATION_MONTHS), endsOn: '',
    conditions: Array.from({ length: BLANK_CONDITION_ROWS }, blankRow),
  };
}

/** Reads the form, every row kept in place (so an error stays next to its row). */
export function readDecisionForm(body: Record<string, unknown>): DecisionFormValues {
  return {
    outcome: str(body.outcome), authority: str(body.authority), authorityEmail: str(body.authorityEmail), decidedOn: str(body.decidedOn),
    durationMonths: str(body.durationMonths), endsOn: str(body.endsOn),
    conditions: rows(body.conditions).slice(0, MAX_CONDITION_ROWS).map((r) => ({ text: str(r.text), teamId: str(r.teamId), targetDate: str(r.targetDate) })),
  };
}

/** "Ajouter une condition": one more empty row, nothing saved. */
export function withOneMoreRow(values: DecisionFormValues): DecisionFormValues {
  return values.conditions.length >= MAX_CONDITION_ROWS ? values : { ...values, conditions: [...values.conditions, blankRow()] };
}

export const DURATION_TOO_LONG = `La durée d'une homologation ne peut dépasser ${MAX_DURATION_MONTHS} mois (3 ans).`;
export const ENDS_BEFORE_DECISION = 'La date de fin doit être postérieure à la date de la décision.';

/** The authority's address may stay empty; when typed, it follows the one e-mail rule of the app. */
const anAddress = emailAddress('');
const optionalEmailAddress = z.string().trim().superRefine((v, c) => {
  if (v === '') return;
  const checked = anAddress.safeParse(v);
  if (!checked.success) c.addIssue({ code: 'custom', message: checked.error.issues[0]?.message ?? '' });
});
const dmy = (d: string) => d.split('-').reverse().join('/');

const schema = z.object({
  outcome: z.enum(OUTCOMES, { error: "Indiquez la décision de l'autorité d'homologation." }),
  authority: requiredText(300, "Indiquez qui a pris la décision (nom et fonction de l'autorité d'homologation)."),
  authorityEmail: optionalEmailAddress,
  decidedOn: isoDate('Saisissez la date de la décision.'),
});

const optionalDate = isoDate('');

export type DecisionValidation = { ok: true; input: SignatureInput } | { ok: false; errors: FieldErrors };

/**
 * Checks the decision: its outcome, the authority (and the address the expiry reminders go to), the date; a
 * duration of 1 to 36 months unless refused, and an end date, if given, after the decision and within 36 months;
 * the conditions, at least one for "sous conditions", only for "sous conditions" or "provisoire". Error keys are
 * prefixed "signature-" like the fields' ids.
 */
export function validateDecision(values: DecisionFormValues, refs: { teamIds: Set<number> }): DecisionValidation {
  const parsed = schema.safeParse(values);
  const errors: FieldErrors = parsed.success ? {} : fieldErrors(parsed.error, 'signature-');
  const outcome = parsed.success ? parsed.data.outcome : (OUTCOMES as readonly string[]).includes(values.outcome) ? values.outcome : null;
  const refused = outcome === 'refusee';
  const decidedOn = errors['signature-decidedOn'] ? null : values.decidedOn.trim();

  let durationMonths: number | null = null;
  let endsOn: string | null = null;
  if (!refused) {
    const d = values.durationMonths.trim();
    if (!d) errors['signature-durationMonths'] = `Saisissez la durée de validité de l'homologation, en mois (${MAX_DURATION_MONTHS} au plus).`;
    else if (!/^\d{1,6}$/.test(d)) errors['signature-durationMonths'] = 'Saisissez une durée en nombre entier de mois (par exemple 36).';
    else if (Number(d) < 1) errors['signature-durationMonths'] = "La durée doit être d'au moins un mois.";
    else if (Number(d) > MAX_DURATION_MONTHS) errors['signature-durationMonths'] = DURATION_TOO_LONG;
    else durationMonths = Number(d);

    const e = values.endsOn.trim();
    if (e) {
      const date = optionalDate.safeParse(e);
      if (!date.success) errors['signature-endsOn'] = date.error.issues[0]?.message ?? 'Saisissez une date valide (jj/mm/aaaa).';
      else if (decidedOn) {
        const latest = endDateOf(decidedOn, MAX_DURATION_MONTHS);
        if (e <= decidedOn) errors['signature-endsOn'] = ENDS_BEFORE_DECISION;
        else if (e > latest) errors['signature-endsOn'] = `La date de fin ne peut dépasser ${MAX_DURATION_MONTHS} mois (3 ans) après la décision : le ${dmy(latest)} au plus tard.`;
        else endsOn = e;
      }
    }
  }

  const conditions: ConditionInput[] = [];
  let used = 0;
  values.conditions.forEach((row, i) => {
    const text = row.text.trim();
    if (!text && !row.teamId.trim() && !row.targetDate.trim()) return;
    used += 1;
    const key = `signature-conditions.${i}`;
    if (!text) errors[`${key}.text`] = 'Saisissez la condition, ou videz la ligne.';
    else if (text.length > 2000) errors[`${key}.text`] = '2000 caractères au maximum.';
    let teamId: number | null = null;
    if (row.teamId.trim()) {
      if (/^\d{1,9}$/.test(row.teamId.trim()) && refs.teamIds.has(Number(row.teamId.trim()))) teamId = Number(row.teamId.trim());
      else errors[`${key}.teamId`] = 'Choisissez une équipe dans la liste.';
    }
    let targetDate: string | null = null;
    if (row.targetDate.trim()) {
      const date = optionalDate.safeParse(row.targetDate);
      if (date.success) targetDate = date.data;
      else errors[`${key}.targetDate`] = date.error.issues[0]?.message ?? 'Saisissez une date valide (jj/mm/aaaa).';
    }
    conditions.push({ text, teamId, targetDate });
  });
  if (outcome === 'sous_conditions' && used === 0) {
    errors['signature-conditions'] = 'Indiquez au moins une condition : chacune deviendra une fiche action suivie.';
  } else if ((outcome === 'homologuee' || outcome === 'refusee') && used > 0) {
    errors['signature-conditions'] = 'Seule une homologation sous conditions ou provisoire porte des conditions : choisissez ce type de décision, ou videz les lignes de conditions.';
  }

  if (!parsed.success || Object.keys(errors).length) return { ok: false, errors };
  return {
    ok: true,
    input: {
      outcome: parsed.data.outcome, authority: parsed.data.authority, authorityEmail: parsed.data.authorityEmail, decidedOn: parsed.data.decidedOn,
      durationMonths, endsOn, conditions,
    },
  };
}
