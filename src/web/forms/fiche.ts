import { z } from 'zod';
import type { FicheDetail, FicheInput } from '../../data/fiches';
import { SIDE_EFFECT_LEVELS, STATUSES } from '../../domain/statuses';
import { type FieldErrors, fieldErrors, idString, isoDate, optionalText, requiredText, rows, str, strings } from './fields';

/** What the form shows: the raw strings the user typed, so nothing is lost on an error. */
export interface FicheFormValues {
  version: string;
  number: string;
  title: string;
  finding: string;
  targetDate: string;
  status: string;
  conclusion: string;
  costAmount: string;
  costSource: string;
  /** 'all' or 'part' from the form's radios; anything else is kept as sent, and refused. */
  scope: string;
  /** Followed instance by instance: the checkbox. */
  rollout: boolean;
  instanceIds: string[];
  steps: { id: string; position: string; label: string; status: string; forCommunes: boolean; remove: boolean; assignee: string; targetDate: string }[];
  counts: { count: string; total: string; label: string }[];
  effects: { level: string; description: string }[];
  owners: { teamId: string; serviceId: string }[];
}

export function emptyFicheValues(nextNumber: number): FicheFormValues {
  return {
    version: '', number: String(nextNumber), title: '', finding: '', targetDate: '', status: 'non_demarre', conclusion: '',
    costAmount: '', costSource: '', scope: 'all', rollout: false, instanceIds: [], steps: [], counts: [], effects: [], owners: [],
  };
}

/** A new fiche's form: its number proposed after the homologation's highest. */
export function newFicheValues(fiches: readonly { number: number }[]): FicheFormValues {
  return emptyFicheValues(fiches.reduce((max, f) => Math.max(max, f.number), 0) + 1);
}

export function ficheToValues(fiche: FicheDetail, instanceIds: number[]): FicheFormValues {
  return {
    version: String(fiche.version),
    number: String(fiche.number),
    title: fiche.title,
    finding: fiche.finding,
    targetDate: fiche.targetDate ?? '',
    status: fiche.status,
    conclusion: fiche.conclusion,
    costAmount: fiche.costAmount === null ? '' : String(fiche.costAmount),
    costSource: fiche.costSource,
    scope: fiche.scopeAll ? 'all' : 'part',
    rollout: fiche.rollout,
    instanceIds: instanceIds.map(String),
    steps: fiche.steps.map((s) => ({
      id: String(s.id), position: String(s.position), label: s.label, status: s.status, forCommunes: Boolean(s.forCommunes), remove: false,
      assignee: s.assigneeUserId !== null ? `u${s.assigneeUserId}` : s.assigneePersonId !== null ? `p${s.assigneePersonId}` : '', targetDate: s.targetDate ?? '',
    })),
    counts: fiche.conclusionCounts.map((c) => ({ count: String(c.count), total: String(c.total), label: c.label })),
    effects: fiche.sideEffects.map((e) => ({ level: e.level, description: e.description })),
    owners: fiche.owners.map((o) => ({ teamId: String(o.teamId), serviceId: o.serviceId === null ? '' : String(o.serviceId) })),
  };
}

/** Reads the submitted body into form values, dropping the blank rows offered for additions. */
export function readFicheForm(body: Record<string, unknown>): FicheFormValues {
  return {
    version: str(body.version),
    number: str(body.number),
    title: str(body.title),
    finding: str(body.finding),
    targetDate: str(body.targetDate),
    status: str(body.status),
    conclusion: str(body.conclusion),
    costAmount: str(body.costAmount),
    costSource: str(body.costSource),
    // Never defaulted: an unknown value must not widen the fiche to every commune.
    scope: str(body.scope),
    rollout: str(body.rollout) === 'on',
    instanceIds: strings(body.instanceIds),
    steps: rows(body.steps)
      .map((r) => ({
        id: str(r.id), position: str(r.position), label: str(r.label), status: str(r.status), forCommunes: str(r.forCommunes) === 'on', remove: str(r.remove) === 'on',
        assignee: str(r.assignee), targetDate: str(r.targetDate),
      }))
      .filter((r) => r.id || r.label.trim()),
    counts: rows(body.counts)
      .map((r) => ({ count: str(r.count), total: str(r.total), label: str(r.label) }))
      .filter((r) => r.count.trim() || r.total.trim() || r.label.trim()),
    effects: rows(body.effects)
      .map((r) => ({ level: str(r.level), description: str(r.description) }))
      .filter((r) => r.description.trim()),
    owners: rows(body.owners)
      .map((r) => ({ teamId: str(r.teamId), serviceId: str(r.serviceId) }))
      .filter((r) => r.teamId),
  };
}

/** The empty rows offered under each table of the form, for additions. */
export type Extra = { steps: number; counts: number; effects: number; owners: number };

/**
 * Buttons that change the form without saving it (add a row, move a step), so it works without JavaScript: the
 * values and empty rows to show again, or null when the button pressed was "save" (or none).
 */
export function applyFormButton(body: Record<string, unknown>, values: FicheFormValues): { values: FicheFormValues; extra: Extra } | null {
  const action = str(body._action);
  if (!action || action === 'save') return null;
  const extraBody = (typeof body.extra === 'object' && body.extra !== null ? body.extra : {}) as Record<string, unknown>;
  const extra: Extra = { steps: 1, counts: 1, effects: 1, owners: 1 };
  for (const key of Object.keys(extra) as (keyof Extra)[]) {
    const n = Number(str(extraBody[key]));
    extra[key] = Number.isInteger(n) && n >= 0 && n <= 50 ? n : 1;
  }
  const add = /^add_(steps|counts|effects|owners)$/.exec(action);
  const move = /^(up|down):(\d+)$/.exec(action);
  if (add) {
    // One more blank row, and at least as many rows as the page had plus one, whatever the user filled in or emptied:
    // the row at the index after the page's last is then blank, so the button's fragment (#steps-4-label), written
    // when the page was drawn, lands on a new row.
    const key = add[1] as keyof Extra;
    const shown = rows(body[key]).length;
    extra[key] = Math.min(Math.max(extra[key] + 1, shown + 1 - values[key].length), 50);
  }
  else if (move) {
    const i = Number(move[2]);
    const j = move[1] === 'up' ? i - 1 : i + 1;
    const a = values.steps[i];
    const b = values.steps[j];
    if (a && b) {
      values.steps[i] = b;
      values.steps[j] = a;
    }
    values.steps.forEach((s, k) => (s.position = String(k + 1)));
  } else return null;
  return { values, extra };
}

const statusField = z.enum(STATUSES, { error: 'Choisissez un avancement dans la liste.' });

const mainSchema = z.object({
  number: z.string().trim().regex(/^\d{1,4}$/, { error: 'Saisissez un numéro entier (par exemple 6).' }).transform(Number)
    .refine((n) => n >= 1, { error: 'Le numéro commence à 1.' }),
  title: requiredText(300, "Saisissez l'intitulé de la fiche."),
  finding: optionalText(5000),
  targetDate: isoDate('Saisissez la date cible.'),
  status: statusField,
  conclusion: optionalText(5000),
  costAmount: z.string().transform((v) => v.replace(/[\s\u00a0\u202f€]/g, ''))
    .refine((v) => v === '' || /^\d{1,9}$/.test(v), { error: 'Saisissez un montant en euros, sans décimales (par exemple 1500).' })
    .transform((v) => (v === '' ? null : Number(v))),
  costSource: optionalText(200),
});

const stepSchema = z.object({
  position: z.string().trim().regex(/^\d{1,4}$/, { error: 'Saisissez un rang entier.' }).transform(Number),
  label: requiredText(500, "Saisissez l'intitulé de l'action ou cochez « Supprimer »."),
  status: statusField,
});
const stepDate = isoDate('Saisissez une date valide (jj/mm/aaaa).');
const countSchema = z.object({
  count: z.string().trim().regex(/^\d{1,7}$/, { error: 'Saisissez un nombre entier.' }).transform(Number),
  total: z.string().trim().regex(/^\d{1,7}$/, { error: 'Saisissez un nombre entier.' }).transform(Number),
  label: requiredText(500, 'Saisissez ce que ce nombre compte.'),
}).refine((c) => c.count <= c.total, { error: 'Le nombre ne peut pas dépasser le total.', path: ['count'] });
const effectSchema = z.object({
  level: z.enum(SIDE_EFFECT_LEVELS, { error: 'Choisissez le niveau : fort ou faible.' }),
  description: requiredText(2000, "Décrivez l'effet de bord."),
});
const ownerSchema = z.object({
  teamId: idString("Choisissez l'équipe responsable."),
  serviceId: z.string().regex(/^(\d{1,9})?$/, { error: 'Choisissez un service dans la liste.' }).transform((v) => (v ? Number(v) : null)),
});

export interface FicheReferences {
  /** who may be responsible for a step: "u12" (an account), "p3" (a named person) */
  assignees: Set<string>;
  teamIds: Set<number>;
  serviceIds: Set<number>;
  instanceIds: Set<number>;
}

/** Shown next to a step whose id is not one of the fiche's steps (forged, or from another fiche). */
export const UNKNOWN_STEP = "Cette action n'appartient pas à cette fiche : elle a pu être supprimée entre-temps. Rechargez la fiche pour la modifier.";

export type FicheValidation = { ok: true; input: FicheInput; version: number } | { ok: false; errors: FieldErrors };

/** Validates every field and every row, collecting all errors at once so the user fixes them in one pass. */
export function validateFiche(values: FicheFormValues, refs: FicheReferences): FicheValidation {
  const errors: FieldErrors = {};
  const main = mainSchema.safeParse(values);
  if (!main.success) Object.assign(errors, fieldErrors(main.error));

  const steps: FicheInput['steps'] = [];
  const stepIds = new Set<number>();
  values.steps.forEach((row, i) => {
    if (row.remove) return;
    // A step keeps the id the form was given; a malformed or repeated one would make a step vanish on save.
    const id = row.id === '' ? null : /^\d{1,9}$/.test(row.id) ? Number(row.id) : NaN;
    if (Number.isNaN(id) || (id !== null && stepIds.has(id))) {
      errors[`steps.${i}.label`] = Number.isNaN(id) ? UNKNOWN_STEP : 'Cette action figure déjà plus haut dans le formulaire. Rechargez la fiche pour la modifier.';
      return;
    }
    if (id !== null) stepIds.add(id);
    const r = stepSchema.safeParse(row);
    if (!r.success) return Object.assign(errors, fieldErrors(r.error, `steps.${i}.`));
    if (row.assignee !== '' && !refs.assignees.has(row.assignee)) {
      errors[`steps.${i}.assignee`] = "Cette personne n'est plus dans la liste (compte suspendu ou personne retirée) : choisissez-en une autre.";
      return;
    }
    const date = row.targetDate.trim() === '' ? { success: true as const, data: null } : stepDate.safeParse(row.targetDate);
    if (!date.success) { errors[`steps.${i}.targetDate`] = date.error.issues[0]?.message ?? 'Saisissez une date valide.'; return; }
    steps.push({
      id, ...r.data, forCommunes: row.forCommunes, targetDate: date.data,
      assigneeUserId: row.assignee.startsWith('u') ? Number(row.assignee.slice(1)) : null,
      assigneePersonId: row.assignee.startsWith('p') ? Number(row.assignee.slice(1)) : null,
    });
  });
  const conclusionCounts: FicheInput['conclusionCounts'] = [];
  values.counts.forEach((row, i) => {
    const r = countSchema.safeParse(row);
    if (!r.success) return Object.assign(errors, fieldErrors(r.error, `counts.${i}.`));
    conclusionCounts.push(r.data);
  });
  const sideEffects: FicheInput['sideEffects'] = [];
  values.effects.forEach((row, i) => {
    const r = effectSchema.safeParse(row);
    if (!r.success) return Object.assign(errors, fieldErrors(r.error, `effects.${i}.`));
    sideEffects.push(r.data);
  });
  const owners: FicheInput['owners'] = [];
  values.owners.forEach((row, i) => {
    const r = ownerSchema.safeParse(row);
    if (!r.success) return Object.assign(errors, fieldErrors(r.error, `owners.${i}.`));
    if (!refs.teamIds.has(r.data.teamId)) errors[`owners.${i}.teamId`] = "Cette équipe n'existe plus : choisissez-en une autre.";
    else if (r.data.serviceId !== null && !refs.serviceIds.has(r.data.serviceId)) errors[`owners.${i}.serviceId`] = "Ce service n'existe plus.";
    else if (owners.some((o) => o.teamId === r.data.teamId && o.serviceId === r.data.serviceId)) errors[`owners.${i}.teamId`] = 'Ce responsable est déjà indiqué.';
    else owners.push(r.data);
  });
  if (values.owners.length === 0) errors.owners = 'Indiquez au moins une équipe responsable.';

  const instanceIds = values.instanceIds.filter((v) => /^\d+$/.test(v)).map(Number);
  if (values.scope !== 'all' && values.scope !== 'part') {
    errors.instanceIds = "Choisissez le périmètre : tout le périmètre de l'homologation, ou une partie des instances.";
  } else if (values.scope === 'part') {
    if (instanceIds.length === 0) errors.instanceIds = 'Cochez au moins une instance, ou choisissez « Tout le périmètre ».';
    else if (instanceIds.some((id) => !refs.instanceIds.has(id))) errors.instanceIds = "Une des instances cochées n'existe plus.";
  }
  const version = Number(values.version);

  if (!main.success || Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    version: Number.isInteger(version) ? version : 0,
    input: {
      ...main.data,
      scopeAll: values.scope === 'all',
      rollout: values.rollout,
      instanceIds: values.scope === 'part' ? [...new Set(instanceIds)] : [],
      steps,
      conclusionCounts,
      sideEffects,
      owners,
    },
  };
}
