import type { Knex } from 'knex';
import type { CommitteeRisk, RiskFicheState, RiskState } from '../domain/risk-committee';
import type { Status } from '../domain/statuses';
import { visibleTo as fichesVisibleTo } from './fiches';
import { reads } from './reads';

const nullable = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * The homologation's risks as the committee's table reads them: levels, treating fiches with their status and
 * target date, the communes of the instances each touches. For a commune's agent (communeId), only the risks touching
 * its instances and the fiches it may see. Three statements whatever the size.
 */
export async function committeeRisks(db: Knex, planId: number, communeId: number | null): Promise<CommitteeRisk[]> {
  const visible = () => {
    const q = db('risks').where('risks.plan_id', planId);
    if (communeId !== null) {
      q.whereExists(db('risk_instances').join('instances', 'instances.id', 'risk_instances.instance_id').select(db.raw('1'))
        .whereRaw('risk_instances.risk_id = risks.id').where('instances.commune_id', communeId));
    }
    return q;
  };
  const [rows, fiches, communes] = await reads(db,
    () => visible().orderBy('risks.number')
      .select('risks.id', 'risks.number', 'risks.title', 'risks.likelihood', 'risks.severity', 'risks.residual_likelihood', 'risks.residual_severity'),
    () => fichesVisibleTo(db('risk_fiches').join('fiches', 'fiches.id', 'risk_fiches.fiche_id').whereIn('risk_fiches.risk_id', visible().select('risks.id')), db, communeId)
      .orderBy('fiches.number').select('risk_fiches.risk_id', 'fiches.id', 'fiches.number', 'fiches.title', 'fiches.status', 'fiches.target_date'),
    () => db('risk_instances').join('instances', 'instances.id', 'risk_instances.instance_id').whereIn('risk_instances.risk_id', visible().select('risks.id'))
      .whereNotNull('instances.commune_id').distinct('risk_instances.risk_id', 'instances.commune_id'),
  );
  const fichesBy = new Map<number, RiskFicheState[]>();
  for (const f of fiches as Record<string, unknown>[]) {
    const id = Number(f.risk_id);
    fichesBy.set(id, [...(fichesBy.get(id) ?? []), {
      id: Number(f.id), number: Number(f.number), title: String(f.title), status: f.status as Status, targetDate: (f.target_date as string | null) ?? null,
    }]);
  }
  const communesBy = new Map<number, number[]>();
  for (const c of communes as Record<string, unknown>[]) communesBy.set(Number(c.risk_id), [...(communesBy.get(Number(c.risk_id)) ?? []), Number(c.commune_id)]);
  return rows.map((r: Record<string, unknown>) => ({
    id: Number(r.id), number: Number(r.number), title: String(r.title), likelihood: Number(r.likelihood), severity: Number(r.severity),
    residualLikelihood: nullable(r.residual_likelihood), residualSeverity: nullable(r.residual_severity),
    fiches: fichesBy.get(Number(r.id)) ?? [], communeIds: (communesBy.get(Number(r.id)) ?? []).sort((a, b) => a - b),
  }));
}

/** A risk's state before and after an instant, and the communes of the instances it touched (either side). */
export interface RiskHistory { riskId: number; before: RiskState | undefined; after: RiskState | undefined; communeIds: number[] }

const stateOf = (v: Record<string, unknown>): RiskState => ({
  number: Number(v.number), title: String(v.title), likelihood: Number(v.likelihood), severity: Number(v.severity),
  residualLikelihood: nullable(v.residualLikelihood), residualSeverity: nullable(v.residualSeverity),
});

const parse = (v: unknown): Record<string, unknown> | null => {
  if (v === null || v === undefined) return null;
  try {
    const o: unknown = JSON.parse(String(v));
    return o && typeof o === 'object' ? (o as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

/**
 * The homologation's risks changed since an instant, rebuilt from the audit trail (entity "risk"): each one's state
 * at that instant (its last creation or edit before it) and now, for the risks of the homologation today and those
 * deleted since. A deleted risk is placed in its homologation by the planId its audit row carries, else by its
 * treating fiches; one that names neither cannot be placed and is left out.
 */
export async function riskHistoriesSince(db: Knex, planId: number, sinceIso: string): Promise<RiskHistory[]> {
  const deletedSince = db('audit_log').where({ entity_type: 'risk', action: 'delete' }).where('at', '>', sinceIso).select('entity_id');
  const rows = await db('audit_log').where('entity_type', 'risk')
    .where((q) => q.whereIn('entity_id', db('risks').where('plan_id', planId).select('id')).orWhereIn('entity_id', deletedSince))
    .whereIn('entity_id', db('audit_log').where('entity_type', 'risk').where('at', '>', sinceIso).select('entity_id'))
    .orderBy('id').select('entity_id', 'action', 'at', 'before', 'after');
  const byRisk = new Map<number, { at: string; action: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null }[]>();
  for (const r of rows as Record<string, unknown>[]) {
    const id = Number(r.entity_id);
    byRisk.set(id, [...(byRisk.get(id) ?? []), { at: String(r.at), action: String(r.action), before: parse(r.before), after: parse(r.after) }]);
  }
  const [current, ficheIdsOf] = await reads(db,
    () => db('risks').where('plan_id', planId).whereIn('id', [...byRisk.keys()]).pluck('id'),
    () => db('fiches').where('plan_id', planId).pluck('id'),
  );
  const inPlan = new Set((current as unknown[]).map(Number));
  const planFiches = new Set((ficheIdsOf as unknown[]).map(Number));
  const histories: { riskId: number; before: RiskState | undefined; after: RiskState | undefined; instanceIds: number[] }[] = [];
  for (const [riskId, entries] of byRisk) {
    if (!inPlan.has(riskId)) {
      // deleted since: its homologation from the deletion's row
      const last = entries.at(-1)?.before ?? {};
      const placed = last.planId !== undefined ? Number(last.planId) === planId
        : Array.isArray(last.ficheIds) && last.ficheIds.some((f) => planFiches.has(Number(f)));
      if (!placed) continue;
    }
    let before: RiskState | undefined;
    let after: RiskState | undefined;
    const instanceIds = new Set<number>();
    for (const e of entries) {
      const state = e.action === 'delete' ? undefined : e.after ? stateOf(e.after) : undefined;
      for (const side of [e.before, e.after]) if (Array.isArray(side?.instanceIds)) for (const i of side.instanceIds) instanceIds.add(Number(i));
      if (e.at <= sinceIso) before = state;
      after = state;
    }
    histories.push({ riskId, before, after, instanceIds: [...instanceIds] });
  }
  const allInstances = [...new Set(histories.flatMap((h) => h.instanceIds))];
  const communeOf = new Map<number, number>();
  if (allInstances.length) {
    for (const i of await db('instances').whereIn('id', allInstances).whereNotNull('commune_id').select('id', 'commune_id')) communeOf.set(Number(i.id), Number(i.commune_id));
  }
  return histories.map((h) => ({
    riskId: h.riskId, before: h.before, after: h.after,
    communeIds: [...new Set(h.instanceIds.flatMap((i) => (communeOf.has(i) ? [communeOf.get(i)!] : [])))].sort((a, b) => a - b),
  }));
}
