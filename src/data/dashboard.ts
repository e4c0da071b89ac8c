import type { Knex } from 'knex';
import { sortFrench } from '../domain/words';
import type { DashFiche, DashInstance } from '../domain/dashboard';
import type { EnvironmentRef, Status } from '../domain/statuses';
import { stepsWithAssignees, visibleTo } from './fiches';
import { rolloutSummaries } from './rollout';

export interface DashboardData {
  fiches: DashFiche[];
  instances: DashInstance[];
  milestones: { dueDate: string; title: string; done: boolean }[];
  teams: { id: number; name: string }[];
  services: { id: number; name: string }[];
  communes: { id: number; name: string }[];
  /** The organisation's environments, in their order. */
  environments: EnvironmentRef[];
  /** Steps done per fiche after each change, for the trend. */
  stepEvents: { ficheId: number; at: string; stepsDone: number }[];
}

/**
 * Everything the dashboard needs in a fixed number of queries, whatever the size of the plan:
 * the visible fiches and, through sub-queries on them, their steps, owners, strong side effects and scope.
 */
export async function loadDashboard(db: Knex, planId: number, communeId: number | null): Promise<DashboardData> {
  const visible = () => visibleTo(db('fiches').where('fiches.plan_id', planId), db, communeId).select('fiches.id');
  const instanceQuery = db('instances')
    .join('services', 'services.id', 'instances.service_id')
    .leftJoin('communes', 'communes.id', 'instances.commune_id')
    .select('instances.id', 'instances.service_id', 'instances.environment', 'instances.commune_id', 'services.name as service_name', 'communes.name as commune_name');
  instanceQuery.whereIn('instances.id', db('plan_instances').where('plan_id', planId).select('instance_id'));
  if (communeId !== null) instanceQuery.where('instances.commune_id', communeId);
  const [fiches, steps, owners, effects, scope, instanceRows, milestones, teams, services, communes, progress, environments] = await Promise.all([
    db('fiches').whereIn('id', visible()).select('id', 'number', 'title', 'status', 'target_date', 'scope_all').orderBy('number'),
    stepsWithAssignees(db).whereIn('steps.fiche_id', visible()).orderBy(['steps.fiche_id', 'steps.position']),
    db('fiche_owners').join('teams', 'teams.id', 'fiche_owners.team_id').whereIn('fiche_owners.fiche_id', visible())
      .select('fiche_owners.fiche_id', 'teams.id as team_id', 'teams.name as team_name'),
    db('side_effects').whereIn('fiche_id', visible()).where('level', 'fort').select('fiche_id', 'description').orderBy(['fiche_id', 'position']),
    db('fiche_instances').whereIn('fiche_id', visible()).select('fiche_id', 'instance_id'),
    instanceQuery,
    db('milestones').where('plan_id', planId).select('due_date', 'title', 'done').orderBy('due_date'),
    db('teams').select('id', 'name').orderBy('name'),
    db('services').select('id', 'name').orderBy(['position', 'name']),
    communeId === null ? db('communes').select('id', 'name').orderBy('name') : db('communes').where('id', communeId).select('id', 'name'),
    // the compact history of steps done, written with each change (not the audit trail's snapshots, parsed)
    db('fiche_progress').whereIn('fiche_id', visible()).select('fiche_id', 'at', 'steps_done').orderBy('id'),
    db('environments').select('code', 'label', 'position').orderBy(['position', 'label']),
  ]);
  const group = <T>(rows: T[], key: (r: T) => number) => {
    const map = new Map<number, T[]>();
    for (const r of rows) {
      const list = map.get(key(r));
      if (list) list.push(r);
      else map.set(key(r), [r]);
    }
    return map;
  };
  const stepsBy = group(steps, (r) => Number(r.fiche_id));
  const ownersBy = group(owners, (r) => Number(r.fiche_id));
  const effectsBy = group(effects, (r) => Number(r.fiche_id));
  const scopeBy = group(scope, (r) => Number(r.fiche_id));
  const visibleInstances = new Set(instanceRows.map((r) => Number(r.id)));
  const envs = environments.map((e) => ({ code: String(e.code), label: String(e.label), position: Number(e.position) }));
  // the fiches followed per instance: their counts (a commune's agent, its own instances')
  const rollout = await rolloutSummaries(db, visible(), envs, communeId);
  return {
    fiches: fiches.map((f) => ({
      id: Number(f.id), number: Number(f.number), title: f.title, status: f.status as Status, targetDate: f.target_date ?? null,
      owners: [...new Map((ownersBy.get(Number(f.id)) ?? []).map((o) => [Number(o.team_id), { teamId: Number(o.team_id), teamName: o.team_name as string }])).values()],
      steps: (stepsBy.get(Number(f.id)) ?? []).map((s) => ({
        label: s.label as string, status: s.status as Status, targetDate: (s.target_date as string | null) ?? null,
        assigneeName: (s.assignee_user_name as string | null) ?? (s.assignee_person_name as string | null) ?? null,
      })),
      strongEffects: (effectsBy.get(Number(f.id)) ?? []).map((e) => e.description as string),
      // a commune agent's view of a fiche's scope is limited to its own instances
      instanceIds: f.scope_all ? 'all' : (scopeBy.get(Number(f.id)) ?? []).map((s) => Number(s.instance_id)).filter((id) => visibleInstances.has(id)),
      ...(rollout.has(Number(f.id)) ? { rollout: rollout.get(Number(f.id))! } : {}),
    })),
    instances: instanceRows.map((r) => ({
      id: Number(r.id), serviceId: Number(r.service_id), serviceName: r.service_name, environment: r.environment,
      communeId: r.commune_id === null ? null : Number(r.commune_id), communeName: r.commune_name ?? null,
    })),
    milestones: milestones.map((m) => ({ dueDate: m.due_date, title: m.title, done: Boolean(m.done) })),
    // French order for the filters' lists (the query's ORDER BY compares bytes: Écully would follow Vénissieux)
    teams: sortFrench(teams.map((t) => ({ id: Number(t.id), name: String(t.name) })), (t) => t.name),
    services: services.map((s) => ({ id: Number(s.id), name: s.name })),
    communes: sortFrench(communes.map((c) => ({ id: Number(c.id), name: String(c.name) })), (c) => c.name),
    environments: envs,
    stepEvents: progress.map((a) => ({ ficheId: Number(a.fiche_id), at: String(a.at), stepsDone: Number(a.steps_done) })),
  };
}
