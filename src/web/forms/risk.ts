import { z } from 'zod';
import type { RiskDetail, RiskInput } from '../../data/risks';
import { cellField, MAX_LEVELS, MIN_LEVELS, type RiskScales, TREATMENTS } from '../../domain/risks';
import { type FieldErrors, fieldErrors, optionalText, requiredText, str, strings } from './fields';

/** The risk form as typed, to show it again next to the errors. */
export interface RiskFormValues {
  version: string;
  title: string;
  description: string;
  scenario: string;
  ownerTeamId: string;
  ownerName: string;
  likelihood: string;
  severity: string;
  existingMeasures: string;
  treatment: string;
  residualLikelihood: string;
  residualSeverity: string;
  ficheIds: string[];
  instanceIds: string[];
}

export const emptyRiskValues = (): RiskFormValues => ({
  version: '', title: '', description: '', scenario: '', ownerTeamId: '', ownerName: '', likelihood: '', severity: '', existingMeasures: '',
  treatment: 'reduire', residualLikelihood: '', residualSeverity: '', ficheIds: [], instanceIds: [],
});

export function riskToValues(r: RiskDetail): RiskFormValues {
  const s = (n: number | null) => (n === null ? '' : String(n));
  return {
    version: String(r.version), title: r.title, description: r.description, scenario: r.scenario, ownerTeamId: s(r.ownerTeamId), ownerName: r.ownerName,
    likelihood: String(r.likelihood), severity: String(r.severity), existingMeasures: r.existingMeasures, treatment: r.treatment,
    residualLikelihood: s(r.residualLikelihood), residualSeverity: s(r.residualSeverity),
    ficheIds: r.fiches.map((f) => String(f.id)), instanceIds: r.instances.map((i) => String(i.id)),
  };
}

export function readRiskForm(body: Record<string, unknown>): RiskFormValues {
  return {
    version: str(body.version), title: str(body.title), description: str(body.description), scenario: str(body.scenario),
    ownerTeamId: str(body.ownerTeamId), ownerName: str(body.ownerName), likelihood: str(body.likelihood), severity: str(body.severity),
    existingMeasures: str(body.existingMeasures), treatment: str(body.treatment),
    residualLikelihood: str(body.residualLikelihood), residualSeverity: str(body.residualSeverity),
    ficheIds: strings(body.ficheIds), instanceIds: strings(body.instanceIds),
  };
}

/** A level of a scale of `n` levels: its rank, 1 to n. */
const level = (n: number, missing: string) => z.string().trim().min(1, { error: missing })
  .regex(/^\d$/, { error: missing }).transform(Number)
  .refine((v) => v >= 1 && v <= n, { error: `Choisissez un niveau de l'échelle (1 à ${n}).` });
const optionalLevel = (n: number) => z.string().trim()
  .refine((v) => v === '' || (/^\d$/.test(v) && Number(v) >= 1 && Number(v) <= n), { error: `Choisissez un niveau de l'échelle (1 à ${n}), ou aucun.` })
  .transform((v) => (v === '' ? null : Number(v)));

export function riskSchema(scales: RiskScales) {
  const l = scales.likelihood.length;
  const g = scales.severity.length;
  return z.object({
    title: requiredText(300, "Saisissez l'intitulé du risque."),
    description: optionalText(5000),
    scenario: optionalText(5000),
    ownerTeamId: z.string().regex(/^(\d{1,9})?$/, { error: 'Choisissez une équipe dans la liste.' }).transform((v) => (v ? Number(v) : null)),
    ownerName: optionalText(200),
    likelihood: level(l, 'Choisissez la vraisemblance.'),
    severity: level(g, 'Choisissez la gravité.'),
    existingMeasures: optionalText(5000),
    treatment: z.enum(TREATMENTS, { error: 'Choisissez le traitement prévu : réduire, accepter, transférer ou éviter.' }),
    residualLikelihood: optionalLevel(l),
    residualSeverity: optionalLevel(g),
  });
}

const ids = (values: string[]) => values.filter((v) => /^\d{1,9}$/.test(v)).map(Number);

export type RiskValidation = { ok: true; input: RiskInput; version: number } | { ok: false; errors: FieldErrors };

/**
 * Checks the form against the scales and the homologation's choices (teams, fiches, instances offered on the form).
 * A fiche or instance the form did not offer is left to the save, which refuses it inside its transaction.
 */
export function validateRisk(values: RiskFormValues, scales: RiskScales, teamIds: Set<number>): RiskValidation {
  const parsed = riskSchema(scales).safeParse(values);
  const errors: FieldErrors = parsed.success ? {} : fieldErrors(parsed.error);
  if (parsed.success) {
    const d = parsed.data;
    if ((d.residualLikelihood === null) !== (d.residualSeverity === null)) {
      errors[d.residualLikelihood === null ? 'residualLikelihood' : 'residualSeverity'] =
        'Le risque résiduel se donne avec sa vraisemblance et sa gravité, ou pas du tout.';
    }
    if (d.ownerTeamId !== null && !teamIds.has(d.ownerTeamId)) errors.ownerTeamId = 'Choisissez une équipe dans la liste.';
  }
  if (values.ficheIds.some((v) => !/^\d{1,9}$/.test(v))) errors.ficheIds = 'Cochez des fiches de la liste.';
  if (values.instanceIds.some((v) => !/^\d{1,9}$/.test(v))) errors.instanceIds = 'Cochez des instances de la liste.';
  const version = values.version === '' ? 0 : /^\d{1,9}$/.test(values.version) ? Number(values.version) : NaN;
  if (Number.isNaN(version)) errors.title ??= 'Le formulaire est incomplet : rechargez la page.';
  if (!parsed.success || Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, version, input: { ...parsed.data, ficheIds: ids(values.ficheIds), instanceIds: ids(values.instanceIds) } };
}

// ---------------------------------------------------------------- the administrator's scales and matrix

export interface ScalesFormValues {
  version: string;
  likelihoodCount: string;
  severityCount: string;
  classesCount: string;
  likelihood: string[];
  severity: string[];
  classes: string[];
  /** matrix[l][g] as typed: '' when not chosen. */
  matrix: string[][];
}

export function scalesToValues(s: RiskScales & { version: number }): ScalesFormValues {
  return {
    version: String(s.version), likelihoodCount: String(s.likelihood.length), severityCount: String(s.severity.length), classesCount: String(s.classes.length),
    likelihood: [...s.likelihood], severity: [...s.severity], classes: [...s.classes], matrix: s.matrix.map((row) => row.map(String)),
  };
}

const count = (v: string, fallback: number) => {
  const n = Number(v);
  return Number.isInteger(n) && n >= MIN_LEVELS && n <= MAX_LEVELS ? n : fallback;
};

/**
 * Reads the scales form. The counts say how many labels and cells to read: a count changed with "Mettre à jour le
 * tableau" shows the new rows and cells, the new ones empty, so the matrix must be filled in before it is saved.
 */
export function readScalesForm(body: Record<string, unknown>): ScalesFormValues {
  const values: ScalesFormValues = {
    version: str(body.version), likelihoodCount: str(body.likelihoodCount), severityCount: str(body.severityCount), classesCount: str(body.classesCount),
    likelihood: [], severity: [], classes: [], matrix: [],
  };
  const nl = count(values.likelihoodCount, 4);
  const ng = count(values.severityCount, 4);
  const nc = count(values.classesCount, 4);
  for (let i = 1; i <= nl; i++) values.likelihood.push(str(body[`likelihood_${i}`]));
  for (let i = 1; i <= ng; i++) values.severity.push(str(body[`severity_${i}`]));
  for (let i = 1; i <= nc; i++) values.classes.push(str(body[`classes_${i}`]));
  for (let l = 1; l <= nl; l++) {
    const row: string[] = [];
    for (let g = 1; g <= ng; g++) row.push(str(body[cellField(l, g)]));
    values.matrix.push(row);
  }
  return values;
}

/** The scales the form describes (an unchosen cell is 0: a hole, which validation refuses), with errors on the counts. */
export function scalesOfForm(values: ScalesFormValues): { scales: RiskScales; errors: FieldErrors } {
  const errors: FieldErrors = {};
  for (const key of ['likelihoodCount', 'severityCount', 'classesCount'] as const) {
    const n = Number(values[key]);
    if (!Number.isInteger(n) || n < MIN_LEVELS || n > MAX_LEVELS) errors[key] = `Choisissez un nombre entre ${MIN_LEVELS} et ${MAX_LEVELS}.`;
  }
  return {
    errors,
    scales: {
      likelihood: values.likelihood, severity: values.severity, classes: values.classes,
      matrix: values.matrix.map((row) => row.map((c) => (/^\d$/.test(c) ? Number(c) : 0))),
    },
  };
}
