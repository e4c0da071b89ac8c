/**
 * The risks where the committee meets them: the residual risks the authority accepts in its decision (frozen as
 * labels), the agenda's and the dashboard's risk table (critical risks still waiting on a late fiche first), and the
 * changes of risks since the previous meeting, read from the audit trail.
 */
import { isLate } from './fiche';
import { criticality, type RiskLevels, type RiskScales, TREATMENT_LABELS, type Treatment } from './risks';
import { STATUS_LABELS, type Status } from './statuses';

/** A level's label on its scale; its rank when the scale no longer has it. */
const levelLabel = (labels: readonly string[], n: number) => labels[n - 1] ?? `niveau ${n}`;
const classOf = (scales: RiskScales, l: number, s: number) => {
  const c = criticality(scales, l, s);
  return c === null ? '—' : scales.classes[c - 1]!;
};

/**
 * The critical classes: the upper half of the classes, rounded down (2 of 4: critique and très critique; 1 of 3 or
 * of 2; 3 of 6). A risk is critical when its initial criticality is one of them.
 */
export function isCriticalClass(cls: number | null, count: number): boolean {
  return cls !== null && cls > Math.ceil(count / 2);
}

export function criticalClassLabels(scales: RiskScales): string[] {
  return scales.classes.filter((_, i) => isCriticalClass(i + 1, scales.classes.length));
}

/** "Critique ou Très critique". */
export function orPhrase(labels: readonly string[]): string {
  return labels.length > 1 ? `${labels.slice(0, -1).join(', ')} ou ${labels.at(-1)}` : labels.join('');
}

// ---------------------------------------------------------------- the decision's acceptance

/** A risk as the decision reads it: levels as ranks, the communes whose instances it touches. */
export interface RiskToAccept extends Omit<RiskLevels, 'planId'> {
  treatment: Treatment;
  communeIds: number[];
}

/** A risk accepted in a decision, as it read at that moment: texts only, never recomputed. */
export interface AcceptedRisk {
  riskId: number | null;
  number: number;
  title: string;
  likelihood: string;
  severity: string;
  criticality: string;
  /** The residual levels when they were set; null: the initial levels were accepted as they stood. */
  residual: { likelihood: string; severity: string; criticality: string } | null;
  treatment: string;
  acceptedBy: string;
  acceptedUntil: string | null;
  communeIds: number[];
}

/**
 * What the decision accepts: every risk of the homologation at its residual levels, or at its initial levels when
 * no residual level was set (said so on the record), in number order.
 */
export function acceptanceOf(scales: RiskScales, risks: readonly RiskToAccept[], acceptedBy: string, acceptedUntil: string | null): AcceptedRisk[] {
  return [...risks].sort((a, b) => a.number - b.number).map((r) => ({
    riskId: r.id, number: r.number, title: r.title,
    likelihood: levelLabel(scales.likelihood, r.likelihood), severity: levelLabel(scales.severity, r.severity),
    criticality: classOf(scales, r.likelihood, r.severity),
    residual: r.residualLikelihood !== null && r.residualSeverity !== null
      ? {
          likelihood: levelLabel(scales.likelihood, r.residualLikelihood), severity: levelLabel(scales.severity, r.residualSeverity),
          criticality: classOf(scales, r.residualLikelihood, r.residualSeverity),
        }
      : null,
    treatment: TREATMENT_LABELS[r.treatment] ?? r.treatment,
    acceptedBy, acceptedUntil, communeIds: [...r.communeIds].sort((a, b) => a - b),
  }));
}

/** The accepted risks a commune's agent may read: those that touched its instances when the decision was taken. */
export function acceptedFor<T extends { communeIds: number[] }>(risks: readonly T[], communeId: number | null): T[] {
  return communeId === null ? [...risks] : risks.filter((r) => r.communeIds.includes(communeId));
}

// ---------------------------------------------------------------- the committee's risk table

export interface RiskFicheState { id: number; number: number; title: string; status: Status; targetDate: string | null }

/** A risk with what the committee's table needs: its levels, its treating fiches with their dates, its communes. */
export interface CommitteeRisk extends Omit<RiskLevels, 'planId'> {
  fiches: RiskFicheState[];
  communeIds: number[];
}

/** One line of the risk table, display-ready (a held meeting freezes it as it is). */
export interface RiskRow {
  riskId: number;
  number: number;
  title: string;
  /** The initial criticality's label. */
  initial: string;
  /** The residual criticality's label, or null while no residual level is set. */
  residual: string | null;
  critical: boolean;
  /** Critical and still waiting on a late fiche (target date passed, not done). */
  waiting: boolean;
  fiches: { ficheId: number; number: number; title: string; status: string; late: boolean }[];
  communeIds: number[];
}

/** The risk table: the critical risks waiting on a late fiche first, then by criticality (highest first) and number. */
export function riskRows(scales: RiskScales, risks: readonly CommitteeRisk[], today: string): RiskRow[] {
  const count = scales.classes.length;
  const rows = risks.map((r) => {
    const cls = criticality(scales, r.likelihood, r.severity);
    const critical = isCriticalClass(cls, count);
    const fiches = r.fiches.map((f) => ({ ficheId: f.id, number: f.number, title: f.title, status: STATUS_LABELS[f.status], late: isLate(f, today) }));
    return {
      cls,
      row: {
        riskId: r.id, number: r.number, title: r.title, initial: cls === null ? '—' : scales.classes[cls - 1]!,
        residual: r.residualLikelihood !== null && r.residualSeverity !== null ? classOf(scales, r.residualLikelihood, r.residualSeverity) : null,
        critical, waiting: critical && fiches.some((f) => f.late), fiches, communeIds: [...r.communeIds],
      } satisfies RiskRow,
    };
  });
  rows.sort((a, b) => Number(b.row.waiting) - Number(a.row.waiting) || (b.cls ?? 0) - (a.cls ?? 0) || a.row.number - b.row.number);
  return rows.map((r) => r.row);
}

/** The dashboard's counts: how many risks in each class, initially and once treated (residual), highest class first. */
export function riskCounts(scales: RiskScales, risks: readonly CommitteeRisk[]) {
  const classes = scales.classes.map((label, i) => ({ cls: i + 1, label, initial: 0, residual: 0, critical: isCriticalClass(i + 1, scales.classes.length) }));
  let noResidual = 0;
  for (const r of risks) {
    const c = criticality(scales, r.likelihood, r.severity);
    if (c !== null) classes[c - 1]!.initial += 1;
    if (r.residualLikelihood === null || r.residualSeverity === null) noResidual += 1;
    else {
      const rc = criticality(scales, r.residualLikelihood, r.residualSeverity);
      if (rc !== null) classes[rc - 1]!.residual += 1;
    }
  }
  return { classes: classes.reverse(), noResidual, total: risks.length };
}

// ---------------------------------------------------------------- changes since the last meeting

/** A risk's levels as the audit trail keeps them. */
export interface RiskState {
  number: number;
  title: string;
  likelihood: number;
  severity: number;
  residualLikelihood: number | null;
  residualSeverity: number | null;
}

const levels = (scales: RiskScales, l: number, s: number) =>
  `${levelLabel(scales.likelihood, l)} × ${levelLabel(scales.severity, s)} (${classOf(scales, l, s)})`;

/**
 * A risk's changes between two states, as sentences for the committee: created, deleted, initial levels changed,
 * residual levels set, changed or removed. Levels read on the scales as they are when the agenda is made.
 */
export function riskChanges(scales: RiskScales, before: RiskState | undefined, after: RiskState | undefined): string[] {
  if (!before && !after) return [];
  if (!before) {
    const a = after!;
    const residual = a.residualLikelihood !== null && a.residualSeverity !== null ? `, résiduel ${levels(scales, a.residualLikelihood, a.residualSeverity)}` : '';
    return [`Nouveau risque : ${levels(scales, a.likelihood, a.severity)}${residual}.`];
  }
  if (!after) return [`Risque supprimé (il était ${levels(scales, before.likelihood, before.severity)}).`];
  const out: string[] = [];
  if (before.likelihood !== after.likelihood || before.severity !== after.severity) {
    out.push(`Niveaux initiaux : ${levels(scales, before.likelihood, before.severity)} → ${levels(scales, after.likelihood, after.severity)}.`);
  }
  const had = before.residualLikelihood !== null && before.residualSeverity !== null;
  const has = after.residualLikelihood !== null && after.residualSeverity !== null;
  if (!had && has) out.push(`Risque résiduel évalué : ${levels(scales, after.residualLikelihood!, after.residualSeverity!)}.`);
  else if (had && !has) out.push(`Risque résiduel retiré (il était ${levels(scales, before.residualLikelihood!, before.residualSeverity!)}).`);
  else if (had && has && (before.residualLikelihood !== after.residualLikelihood || before.residualSeverity !== after.residualSeverity)) {
    out.push(`Risque résiduel : ${levels(scales, before.residualLikelihood!, before.residualSeverity!)} → ${levels(scales, after.residualLikelihood!, after.residualSeverity!)}.`);
  }
  return out;
}
