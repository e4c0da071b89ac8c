/**
 * The risk register's rules: the organisation's scales, the criticality matrix, and what a change of them does.
 * Levels and classes are ranks, 1 = lowest; `matrix[likelihood - 1][severity - 1]` is the criticality class.
 */

export interface RiskScales {
  likelihood: string[];
  severity: string[];
  classes: string[];
  matrix: number[][];
}

export const MIN_LEVELS = 2;
export const MAX_LEVELS = 6;

/**
 * The default: seed 002's four levels of each scale and four classes. The matrix follows the sum of the two ranks
 * (2 to 8): up to 3 faible, 4 and 5 modérée, 6 critique, 7 and 8 très critique; so a très probable event is at least
 * modérée, and a critique one at least modérée, whatever the other axis.
 */
export const DEFAULT_RISK_SCALES: RiskScales = {
  likelihood: ['Improbable', 'Peu probable', 'Probable', 'Très probable'],
  severity: ['Modéré', 'Grave', 'Majeur', 'Critique'],
  classes: ['Faible', 'Modérée', 'Critique', 'Très critique'],
  matrix: [
    [1, 1, 2, 2],
    [1, 2, 2, 3],
    [2, 2, 3, 4],
    [2, 3, 4, 4],
  ],
};

export const TREATMENTS = ['reduire', 'accepter', 'transferer', 'eviter'] as const;
export type Treatment = (typeof TREATMENTS)[number];
export const TREATMENT_LABELS: Record<Treatment, string> = {
  reduire: 'Réduire', accepter: 'Accepter', transferer: 'Transférer', eviter: 'Éviter',
};

/** The class of a likelihood × severity, or null when either is outside the scales or the cell is empty. */
export function criticality(scales: RiskScales, likelihood: number, severity: number): number | null {
  const c = scales.matrix[likelihood - 1]?.[severity - 1];
  return typeof c === 'number' && Number.isInteger(c) && c >= 1 && c <= scales.classes.length ? c : null;
}

export const inScale = (levels: readonly string[], n: number | null | undefined): boolean =>
  typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= levels.length;

/** A class's badge: the highest class in red, the next in orange, the lowest in green, the others in blue. */
export function classBadge(cls: number | null, count: number): string {
  if (cls === null) return 'fr-badge--info';
  if (cls === count) return 'fr-badge--error';
  if (cls === count - 1 && count > 2) return 'fr-badge--warning';
  if (cls === 1) return 'fr-badge--success';
  return 'fr-badge--info';
}

/** The form's field of each matrix cell, so an error lands next to its select. */
export const cellField = (likelihood: number, severity: number) => `cell_${likelihood}_${severity}`;

/**
 * Checks scales as an administrator sets them: 2 to 6 levels and classes, each named, no name twice on the same
 * scale, and every cell of the matrix given a class of the list ("a matrix with a hole" is refused). One French
 * message per field: `likelihood_2`, `classes`, `cell_3_1`…
 */
export function validateScales(s: RiskScales): Record<string, string> {
  const errors: Record<string, string> = {};
  const scale = (key: 'likelihood' | 'severity' | 'classes', what: string, name: (i: number) => string) => {
    const labels = s[key];
    if (labels.length < MIN_LEVELS || labels.length > MAX_LEVELS) {
      errors[`${key}Count`] = `Choisissez entre ${MIN_LEVELS} et ${MAX_LEVELS} ${what}.`;
      return;
    }
    const seen = new Set<string>();
    labels.forEach((label, i) => {
      const l = label.trim();
      if (!l) errors[`${key}_${i + 1}`] = `Nommez ${name(i + 1)}.`;
      else if (l.length > 60) errors[`${key}_${i + 1}`] = '60 caractères au maximum.';
      else if (seen.has(l.toLowerCase())) errors[`${key}_${i + 1}`] = `« ${l} » figure déjà plus haut sur cette échelle.`;
      seen.add(l.toLowerCase());
    });
  };
  scale('likelihood', 'niveaux de vraisemblance', (i) => `le niveau ${i} de vraisemblance`);
  scale('severity', 'niveaux de gravité', (i) => `le niveau ${i} de gravité`);
  scale('classes', 'classes de criticité', (i) => `la classe ${i} de criticité`);
  let holes = 0;
  for (let l = 1; l <= s.likelihood.length; l++) {
    for (let g = 1; g <= s.severity.length; g++) {
      const c = s.matrix[l - 1]?.[g - 1];
      if (c === undefined || !Number.isInteger(c) || c < 1 || c > s.classes.length) {
        holes += 1;
        errors[cellField(l, g)] = `Choisissez la criticité pour « ${s.likelihood[l - 1] || l} » × « ${s.severity[g - 1] || g} ».`;
      }
    }
  }
  if (holes) errors.matrix = holes === 1 ? 'La matrice a un trou : une case est sans criticité.' : `La matrice a des trous : ${holes} cases sont sans criticité.`;
  return errors;
}

/** Scales as typed, their labels trimmed and the matrix cut to their size. */
export function normaliseScales(s: RiskScales): RiskScales {
  return {
    likelihood: s.likelihood.map((l) => l.trim()),
    severity: s.severity.map((l) => l.trim()),
    classes: s.classes.map((l) => l.trim()),
    matrix: s.likelihood.map((_, l) => s.severity.map((__, g) => s.matrix[l]?.[g] ?? 0)),
  };
}

/** What the criticality change compares: a risk's levels, initial and residual. */
export interface RiskLevels {
  id: number;
  planId: number;
  number: number;
  title: string;
  likelihood: number;
  severity: number;
  residualLikelihood: number | null;
  residualSeverity: number | null;
}

export interface CriticalityChange {
  risk: RiskLevels;
  which: 'initial' | 'residuel';
  before: string;
  after: string;
}

/** The label of a class, or a dash when the levels fall outside the scales. */
export function classLabel(scales: RiskScales, likelihood: number | null, severity: number | null): string {
  if (likelihood === null || severity === null) return '—';
  const c = criticality(scales, likelihood, severity);
  return c === null ? '—' : scales.classes[c - 1]!;
}

/**
 * The risks whose criticality (initial or residual) the new scales re-compute into another class: what to show before
 * saving. A class renamed is no change; with another number of classes, every class is a new one.
 */
export function criticalityChanges(risks: readonly RiskLevels[], before: RiskScales, after: RiskScales): CriticalityChange[] {
  const changes: CriticalityChange[] = [];
  const sameClasses = before.classes.length === after.classes.length;
  for (const risk of risks) {
    const pairs: ['initial' | 'residuel', number | null, number | null][] = [
      ['initial', risk.likelihood, risk.severity],
      ['residuel', risk.residualLikelihood, risk.residualSeverity],
    ];
    for (const [which, l, g] of pairs) {
      if (l === null || g === null) continue;
      if (sameClasses && criticality(before, l, g) === criticality(after, l, g)) continue;
      const b = classLabel(before, l, g);
      const a = classLabel(after, l, g);
      if (sameClasses || a !== b) changes.push({ risk, which, before: b, after: a });
    }
  }
  return changes;
}

/** The risks a change of scales would leave with a level the scales no longer have: the change is refused while they do. */
export function levelsOutOfScales(risks: readonly RiskLevels[], scales: RiskScales): RiskLevels[] {
  return risks.filter((r) =>
    !inScale(scales.likelihood, r.likelihood) || !inScale(scales.severity, r.severity)
    || (r.residualLikelihood !== null && !inScale(scales.likelihood, r.residualLikelihood))
    || (r.residualSeverity !== null && !inScale(scales.severity, r.residualSeverity)));
}

/** The heat map: one row per likelihood (highest first), one cell per severity, with its class and its count. */
export interface HeatCell { likelihood: number; severity: number; cls: number | null; count: number }
export function heatMap(scales: RiskScales, points: readonly { likelihood: number | null; severity: number | null }[]): HeatCell[][] {
  const count = new Map<string, number>();
  for (const p of points) {
    if (p.likelihood === null || p.severity === null) continue;
    const k = `${p.likelihood}:${p.severity}`;
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  const rows: HeatCell[][] = [];
  for (let l = scales.likelihood.length; l >= 1; l--) {
    rows.push(scales.severity.map((_, i) => ({ likelihood: l, severity: i + 1, cls: criticality(scales, l, i + 1), count: count.get(`${l}:${i + 1}`) ?? 0 })));
  }
  return rows;
}

/** The order of the register: highest criticality first, then by number. */
export function byCriticality<T extends { number: number; likelihood: number; severity: number }>(scales: RiskScales, risks: readonly T[]): T[] {
  const cls = (r: T) => criticality(scales, r.likelihood, r.severity) ?? 0;
  return [...risks].sort((a, b) => cls(b) - cls(a) || a.number - b.number);
}
