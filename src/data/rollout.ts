import type { Knex } from 'knex';
import { type RolloutCell, type RolloutChange, type RolloutCounts, type RolloutPlan, changeText, countRollout, planRollout } from '../domain/rollout';
import { type Actor, communeRestriction } from '../domain/roles';
import { type EnvironmentRef, type Status, STATUS_LABELS } from '../domain/statuses';
import { frenchCollator, frenchOrder } from '../domain/words';
import { bulkWrite } from './bulk';
import { chunks, Refused } from './write';

/** The fiche as the rollout needs it. */
export interface RolloutFiche { id: number; planId: number; number: number; scopeAll: boolean }

/** The ids of the instances in a fiche's scope, as a sub-query: its own list, or the homologation's perimeter. */
function scopeIds(db: Knex, fiche: Pick<RolloutFiche, 'id' | 'planId' | 'scopeAll'>) {
  return fiche.scopeAll
    ? db('plan_instances').where('plan_id', fiche.planId).select('instance_id')
    : db('fiche_instances').where('fiche_id', fiche.id).select('instance_id');
}

/**
 * Each instance of the fiche's scope with its status for the fiche, in the grid's order (service, environment, name);
 * a commune's agent gets its own instances only. One query.
 */
export async function rolloutCells(db: Knex, fiche: Pick<RolloutFiche, 'id' | 'planId' | 'scopeAll'>, communeId: number | null): Promise<RolloutCell[]> {
  const query = db('instances')
    .join('services', 'services.id', 'instances.service_id')
    .leftJoin('communes', 'communes.id', 'instances.commune_id')
    .leftJoin('environments', 'environments.code', 'instances.environment')
    .leftJoin('fiche_rollouts as r', (j) => { j.on('r.instance_id', 'instances.id').andOn('r.fiche_id', db.raw('?', [fiche.id])); })
    .leftJoin('users as u', 'u.id', 'r.updated_by')
    .leftJoin('communes as rc', 'rc.id', 'r.updated_by_commune')
    .whereIn('instances.id', scopeIds(db, fiche))
    .select(
      'instances.id', 'instances.name', 'instances.service_id', 'instances.environment', 'instances.commune_id',
      'services.name as service_name', 'services.position as service_position', 'communes.name as commune_name',
      'environments.label as environment_label', 'environments.position as environment_position',
      'r.status', 'r.due_on', 'r.note', 'r.version', 'r.updated_at', 'u.name as updated_by_name', 'rc.name as updated_by_commune',
    );
  if (communeId !== null) query.where('instances.commune_id', communeId);
  const rows: Record<string, unknown>[] = await query;
  rows.sort((a, b) => Number(a.service_position) - Number(b.service_position) || frenchOrder.compare(String(a.service_name), String(b.service_name))
    || Number(a.environment_position ?? 1e9) - Number(b.environment_position ?? 1e9) || frenchCollator.compare(String(a.name), String(b.name)));
  return rows.map((r) => ({
    instanceId: Number(r.id), instanceName: String(r.name), serviceId: Number(r.service_id), serviceName: String(r.service_name),
    environment: String(r.environment), environmentLabel: String(r.environment_label ?? r.environment),
    communeId: r.commune_id === null ? null : Number(r.commune_id), communeName: (r.commune_name as string | null) ?? null,
    status: (r.status as Status | null) ?? 'non_demarre', dueOn: (r.due_on as string | null) ?? null, note: (r.note as string | null) ?? '',
    version: r.version === null || r.version === undefined ? 0 : Number(r.version),
    updatedAt: (r.updated_at as string | null) ?? null, updatedByName: (r.updated_by_name as string | null) ?? null,
    updatedByCommune: (r.updated_by_commune as string | null) ?? null,
  }));
}

/** A fiche's rollout in counts, overall and per commune. */
export interface RolloutSummary extends RolloutCounts {
  byCommune: Map<number, { done: number; total: number }>;
}

/**
 * The rollout counts of the fiches followed per instance among `ficheIds` (a list or a sub-query of fiche ids), in one
 * query whatever the number of fiches and instances: grouped by fiche, commune, environment and status. A fiche not
 * followed per instance has no entry. `communeId` narrows the counts to a commune's own instances.
 */
export async function rolloutSummaries(
  db: Knex, ficheIds: readonly number[] | Knex.QueryBuilder, environments: readonly EnvironmentRef[], communeId: number | null = null,
): Promise<Map<number, RolloutSummary>> {
  if (Array.isArray(ficheIds) && !ficheIds.length) return new Map();
  const ids = () => (Array.isArray(ficheIds) ? [...ficheIds] : (ficheIds as Knex.QueryBuilder).clone());
  const followed = () => db('fiches').whereIn('id', ids()).where('rollout', true);
  const scope = db('fiche_instances').whereIn('fiche_id', followed().clone().select('id')).select('fiche_id', 'instance_id')
    .unionAll((u) => {
      u.from('fiches').join('plan_instances', 'plan_instances.plan_id', 'fiches.plan_id')
        .whereIn('fiches.id', followed().clone().where('scope_all', true).select('id'))
        .select('fiches.id as fiche_id', 'plan_instances.instance_id');
    });
  const statusOf = db.raw("coalesce(r.status, 'non_demarre')");
  const query = db.from(scope.as('s'))
    .join('instances', 'instances.id', 's.instance_id')
    .leftJoin('fiche_rollouts as r', (j) => { j.on('r.fiche_id', 's.fiche_id').andOn('r.instance_id', 's.instance_id'); })
    .groupBy('s.fiche_id', 'instances.commune_id', 'instances.environment', statusOf)
    .select('s.fiche_id', 'instances.commune_id', 'instances.environment', db.raw("coalesce(r.status, 'non_demarre') as status"), db.raw('count(*) as n'));
  if (communeId !== null) query.where('instances.commune_id', communeId);
  const rows: { fiche_id: number; commune_id: number | null; environment: string; status: Status; n: number | string }[] = await query;
  const followedIds: { id: number }[] = await followed().select('id');
  const byFiche = new Map<number, typeof rows>(followedIds.map((f) => [Number(f.id), []]));
  for (const r of rows) byFiche.get(Number(r.fiche_id))?.push(r);
  const out = new Map<number, RolloutSummary>();
  for (const [id, list] of byFiche) {
    const counts = countRollout(list.map((r) => ({ environment: r.environment, status: r.status, n: Number(r.n) })), environments);
    const byCommune = new Map<number, { done: number; total: number }>();
    for (const r of list) {
      if (r.commune_id === null) continue;
      const c = byCommune.get(Number(r.commune_id)) ?? { done: 0, total: 0 };
      c.total += Number(r.n);
      if (r.status === 'fait') c.done += Number(r.n);
      byCommune.set(Number(r.commune_id), c);
    }
    out.set(id, { ...counts, byCommune });
  }
  return out;
}

export type RolloutResult =
  | { ok: true; count: number; bulkId: number | null }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'not_followed' }
  | { ok: false; reason: 'outside'; instanceIds: number[] }
  | { ok: false; reason: 'other_commune'; instanceIds: number[] }
  | { ok: false; reason: 'conflict'; plan: RolloutPlan };

/**
 * Applies one status change (and optionally a planned date and a note) to the selected instances of a fiche's rollout,
 * all or nothing. Each selected instance is checked under the fiche's lock: in the fiche's scope, the commune's own
 * for a commune's agent, and still at the version the user saw (a change made meanwhile refuses the whole selection).
 * Each instance changed gets its audit entry; several are grouped under one bulk operation. The write is a few
 * statements whatever the count: one insert of the missing rows, one guarded update per version seen.
 */
export async function applyRollout(
  db: Knex, fiche: RolloutFiche, selection: readonly { instanceId: number; seenVersion: number }[], change: RolloutChange, actor: Actor, at: Date,
): Promise<RolloutResult> {
  const done = await bulkWrite<RolloutResult, RolloutResult>(db, { actor, at }, {
    planId: fiche.planId, kind: 'deploiement',
    summary: (n) => `Fiche n°${fiche.number} : ${n} instances passées à « ${STATUS_LABELS[change.status]} »`,
  }, async (trx, audit) => {
    // the fiche's row first: its scope and its being followed per instance cannot change until the end
    const locked = await trx('fiches').where({ id: fiche.id, plan_id: fiche.planId }).update({ version: trx.raw('??', ['version']) });
    if (!locked) throw new Refused({ ok: false, reason: 'not_found' });
    const row = await trx('fiches').where({ id: fiche.id }).select('rollout', 'scope_all', 'number').first();
    if (!row.rollout) throw new Refused({ ok: false, reason: 'not_followed' });
    const cells = await rolloutCells(trx, { id: fiche.id, planId: fiche.planId, scopeAll: Boolean(row.scope_all) }, null);
    const plan = planRollout(cells, selection, change);
    if (plan.outside.length) throw new Refused({ ok: false, reason: 'outside', instanceIds: plan.outside });
    const restriction = communeRestriction(actor);
    if (restriction !== null) {
      const foreign = [...plan.changes.map((c) => c.cell), ...plan.unchanged, ...plan.conflicts.map((c) => c.cell)]
        .filter((c) => c.communeId !== restriction).map((c) => c.instanceId);
      if (foreign.length) throw new Refused({ ok: false, reason: 'other_commune', instanceIds: foreign });
    }
    if (plan.conflicts.length) throw new Refused({ ok: false, reason: 'conflict', plan });
    if (!plan.changes.length) return { ok: true, count: 0, bulkId: null };

    const missing = plan.changes.filter((c) => c.cell.version === 0).map((c) => c.cell.instanceId);
    for (const part of chunks(missing)) {
      await trx('fiche_rollouts').insert(part.map((instanceId) => ({ fiche_id: fiche.id, instance_id: instanceId, status: 'non_demarre', version: 0 })))
        .onConflict(['fiche_id', 'instance_id']).ignore();
    }
    const set = {
      status: change.status,
      ...(change.dueOn !== undefined ? { due_on: change.dueOn } : {}),
      ...(change.note ? { note: change.note } : {}),
      version: trx.raw('?? + 1', ['version']),
      updated_at: at.toISOString(), updated_by: actor.id, updated_by_commune: restriction,
    };
    const byVersion = new Map<number, number[]>();
    for (const c of plan.changes) byVersion.set(c.cell.version, [...(byVersion.get(c.cell.version) ?? []), c.cell.instanceId]);
    for (const [version, ids] of byVersion) {
      for (const part of chunks(ids)) {
        const updated = await trx('fiche_rollouts').where({ fiche_id: fiche.id, version }).whereIn('instance_id', part).update(set);
        // another process changed one of them between the read and this update: nothing of the selection is kept
        if (updated !== part.length) throw new Refused({ ok: false, reason: 'conflict', plan: planRollout(await rolloutCells(trx, { id: fiche.id, planId: fiche.planId, scopeAll: Boolean(row.scope_all) }, null), selection, change) });
      }
    }
    for (const { cell, after } of plan.changes) {
      audit({
        action: 'update', entityType: 'deploiement', entityId: fiche.id,
        summary: `Fiche n°${row.number}, ${changeText(cell, after)}`,
        before: { instanceId: cell.instanceId, status: cell.status, dueOn: cell.dueOn, note: cell.note },
        after: { instanceId: cell.instanceId, ...after },
      });
    }
    return { ok: true, count: plan.changes.length, bulkId: null };
  });
  if ('refused' in done) return done.refused;
  return done.result.ok ? { ...done.result, bulkId: done.bulkId } : done.result;
}

/** What the journal keeps of one instance's rollout changes, newest first. */
export async function rolloutHistory(db: Knex, ficheId: number, limit = 50) {
  const rows = await db('audit_log').where({ entity_type: 'deploiement', entity_id: ficheId }).orderBy('id', 'desc').limit(limit)
    .select('id', 'at', 'actor', 'summary', 'bulk_id');
  return rows.map((r) => ({ id: Number(r.id), at: String(r.at), actor: String(r.actor), summary: String(r.summary), bulkId: r.bulk_id === null ? null : Number(r.bulk_id) }));
}
