import { classLabel, type RiskScales, TREATMENT_LABELS, type Treatment } from './risks';

/** What an audit row of a risk holds of its levels (src/data/risks.ts writes them, before and after a change). */
interface LevelsSnapshot {
  likelihood?: number; severity?: number; residualLikelihood?: number | null; residualSeverity?: number | null; treatment?: string;
}

export interface RiskHistoryEntry { at: string; actor: string; what: string[] }

/**
 * The history of a risk's levels, newest first, from its audit rows: who changed its likelihood, severity,
 * residual levels or treatment, and when. Levels are named on the organisation's scales as they are now (a level is
 * stored as its rank); a change that touched none of them (a title, a description) is left out.
 */
export function riskLevelHistory(
  entries: readonly { at: string; actor: string; action: string; before: unknown; after: unknown }[], scales: RiskScales,
): RiskHistoryEntry[] {
  const none = (n: number | null | undefined): n is null | undefined => n === null || n === undefined;
  const level = (labels: readonly string[], n: number | null | undefined) => (none(n) ? 'non évaluée' : labels[n - 1] ?? `niveau ${n}`);
  const cls = (l: number | null | undefined, s: number | null | undefined) => (none(l) || none(s) ? 'non évaluée' : classLabel(scales, l, s));
  const treatment = (t: string | undefined) => (t ? TREATMENT_LABELS[t as Treatment] ?? t : '—');
  const history: RiskHistoryEntry[] = [];
  for (const e of entries) {
    const before = (e.before ?? {}) as LevelsSnapshot;
    const after = (e.after ?? {}) as LevelsSnapshot;
    if (e.action === 'create') {
      history.push({
        at: e.at, actor: e.actor,
        what: [`Créé : vraisemblance ${level(scales.likelihood, after.likelihood)}, gravité ${level(scales.severity, after.severity)} (criticité ${cls(after.likelihood, after.severity)}), traitement ${treatment(after.treatment).toLowerCase()}`
          + (!none(after.residualLikelihood) ? ` ; résiduel : ${level(scales.likelihood, after.residualLikelihood)}, ${level(scales.severity, after.residualSeverity)}` : '')],
      });
      continue;
    }
    if (e.action !== 'update') continue;
    const what: string[] = [];
    const changed = (a: unknown, b: unknown) => (a ?? null) !== (b ?? null);
    if (changed(before.likelihood, after.likelihood)) what.push(`Vraisemblance : ${level(scales.likelihood, before.likelihood)} → ${level(scales.likelihood, after.likelihood)}`);
    if (changed(before.severity, after.severity)) what.push(`Gravité : ${level(scales.severity, before.severity)} → ${level(scales.severity, after.severity)}`);
    if (changed(before.residualLikelihood, after.residualLikelihood)) what.push(`Vraisemblance résiduelle : ${level(scales.likelihood, before.residualLikelihood)} → ${level(scales.likelihood, after.residualLikelihood)}`);
    if (changed(before.residualSeverity, after.residualSeverity)) what.push(`Gravité résiduelle : ${level(scales.severity, before.residualSeverity)} → ${level(scales.severity, after.residualSeverity)}`);
    if (changed(before.treatment, after.treatment)) what.push(`Traitement : ${treatment(before.treatment)} → ${treatment(after.treatment)}`);
    const initial = [cls(before.likelihood, before.severity), cls(after.likelihood, after.severity)];
    if (initial[0] !== initial[1]) what.push(`Criticité : ${initial[0]} → ${initial[1]}`);
    const residual = [cls(before.residualLikelihood, before.residualSeverity), cls(after.residualLikelihood, after.residualSeverity)];
    if (residual[0] !== residual[1]) what.push(`Criticité résiduelle : ${residual[0]} → ${residual[1]}`);
    if (what.length) history.push({ at: e.at, actor: e.actor, what });
  }
  return history;
}
