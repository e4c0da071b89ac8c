import type { Knex } from 'knex';
import { sortFrench } from '../domain/words';
import type { DashFiche, DashInstance, DashPerimeter } from '../domain/dashboard';
import type { EnvironmentRef, Status } from '../domain/statuses';
import { visibleTo } from './fiches';
import { rolloutSummaries } from './rollout';

export interface DashboardData {
  fiches: DashFiche[];
  /** The instances the fiches' own scopes name (not those on the whole perimeter), within the perimeter the reader sees. */
  instances: DashInstance[];
  /** What the perimeter the reader may see touches: services, environments, communes. */
  perimeter: DashPerimeter;
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
 * With `today`, a fiche's steps are only those late that day (all the dashboard lists), with its counts of steps done
 * and in all (`stepCounts`); without, every step. With `lateSteps: 'summary'` too, none of its steps: how many are late
 * and since when (`lateStepSummary`), counted in SQL with the counts; the screen reads the late steps of the fiches it
 * shows afterwards (lateStepsOf).
 */
export async function loadDashboard(
  db: Knex, planId: number, communeId: number | null, options: { today?: string; lateSteps?: 'all' | 'summary' } = {},
): Promise<DashboardData> {
  const visible = () => visibleTo(db('fiches').where('fiches.plan_id', planId), db, communeId).select('fiches.id');
  // the plan's instances (a commune's staff: its own), never read one by one: what they touch, and the instances the
  // fiches' own scopes name with their fiche (thousands of instances on the whole perimeter are not read)
  const perimeter = () => {
    const q = db('instances').whereIn('instances.id', db('plan_instances').where('plan_id', planId).select('instance_id'));
    if (communeId !== null) q.where('instances.commune_id', communeId);
    return q;
  };
  // from the fiches to their instances (SQLite would otherwise start from the perimeter's instances and probe every fiche)
  const scopeQuery = visibleTo(db('fiches').where('fiches.plan_id', planId), db, communeId)
    .join('fiche_instances', 'fiche_instances.fiche_id', 'fiches.id').join('instances', 'instances.id', 'fiche_instances.instance_id')
    .whereExists(db('plan_instances').select(db.raw('1')).whereRaw('plan_instances.plan_id = fiches.plan_id').whereRaw('plan_instances.instance_id = instances.id'))
    .select('fiche_instances.fiche_id', 'instances.id', 'instances.service_id', 'instances.environment', 'instances.commune_id');
  if (communeId !== null) scopeQuery.where('instances.commune_id', communeId);
  // the columns the dashboard reads only (steps.* holds a dozen more: twice the time at 10,000 steps)
  const stepQuery = db('steps').leftJoin('users as step_user', 'step_user.id', 'steps.assignee_user_id').leftJoin('people as step_person', 'step_person.id', 'steps.assignee_person_id')
    .whereIn('steps.fiche_id', visible()).orderBy(['steps.fiche_id', 'steps.position'])
    .select('steps.fiche_id', 'steps.label', 'steps.status', 'steps.target_date', 'step_user.name as assignee_user_name', 'step_person.name as assignee_person_name');
  if (options.today !== undefined) {
    // late as isStepLate says: not done, and its own date, else its fiche's, passed
    stepQuery.join('fiches', 'fiches.id', 'steps.fiche_id').whereNot('steps.status', 'fait')
      .whereRaw('coalesce(steps.target_date, fiches.target_date) < ?', [options.today]);
  }
  const today = options.today;
  const summary = today !== undefined && options.lateSteps === 'summary';
  let countQuery: Promise<unknown[]> | Knex.QueryBuilder = Promise.resolve([]);
  if (today !== undefined) {
    const counts = db('steps').whereIn('steps.fiche_id', visible()).groupBy('steps.fiche_id')
      .select('steps.fiche_id', db.raw('count(*) as total'), db.raw("sum(case when steps.status = 'fait' then 1 else 0 end) as done"));
    if (summary) {
      // the late steps counted with the others, in the same pass: how many, and the earliest date due among them
      const lateNow = "steps.status <> 'fait' and coalesce(steps.target_date, fiches.target_date) < ?";
      counts.join('fiches', 'fiches.id', 'steps.fiche_id').select(
        db.raw(`sum(case when ${lateNow} then 1 else 0 end) as late_count`, [today]),
        db.raw(`min(case when ${lateNow} then coalesce(steps.target_date, fiches.target_date) end) as late_since`, [today]),
      );
    }
    countQuery = counts;
  }
  const [fiches, steps, stepCounts, owners, effects, scope, perimeterKinds, perimeterCommunes, milestones, teams, services, communes, progress, environments] = await Promise.all([
    db('fiches').whereIn('id', visible()).select('id', 'number', 'title', 'status', 'target_date', 'scope_all').orderBy('number'),
    summary ? Promise.resolve([] as Record<string, unknown>[]) : stepQuery,
    countQuery as Promise<{ fiche_id: number; total: number | string; done: number | string | null; late_count?: number | string | null; late_since?: string | null }[]>,
    db('fiche_owners').join('teams', 'teams.id', 'fiche_owners.team_id').whereIn('fiche_owners.fiche_id', visible())
      .select('fiche_owners.fiche_id', 'teams.id as team_id', 'teams.name as team_name'),
    db('side_effects').whereIn('fiche_id', visible()).where('level', 'fort').select('fiche_id', 'description').orderBy(['fiche_id', 'position']),
    scopeQuery as Promise<{ fiche_id: number; id: number; service_id: number; environment: string; commune_id: number | null }[]>,
    perimeter().distinct('instances.service_id', 'instances.environment'),
    perimeter().whereNotNull('instances.commune_id').distinct('instances.commune_id'),
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
  const countsBy = options.today === undefined ? null
    : new Map(stepCounts.map((c) => [Number(c.fiche_id), { done: Number(c.done ?? 0), total: Number(c.total) }]));
  const lateBy = new Map(summary ? stepCounts.filter((c) => Number(c.late_count ?? 0) > 0)
    .map((c) => [Number(c.fiche_id), { count: Number(c.late_count), since: String(c.late_since) }]) : []);
  const ownersBy = group(owners, (r) => Number(r.fiche_id));
  const effectsBy = group(effects, (r) => Number(r.fiche_id));
  const scopeBy = group(scope, (r) => Number(r.fiche_id));
  const serviceNames = new Map(services.map((sv) => [Number(sv.id), String(sv.name)]));
  const communeNames = new Map(communes.map((c) => [Number(c.id), String(c.name)]));
  const named = new Map<number, DashInstance>();
  for (const r of scope) {
    if (named.has(Number(r.id))) continue;
    named.set(Number(r.id), {
      id: Number(r.id), serviceId: Number(r.service_id), serviceName: serviceNames.get(Number(r.service_id)) ?? '', environment: String(r.environment),
      communeId: r.commune_id === null ? null : Number(r.commune_id), communeName: r.commune_id === null ? null : communeNames.get(Number(r.commune_id)) ?? null,
    });
  }
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
      ...(countsBy ? { stepCounts: countsBy.get(Number(f.id)) ?? { done: 0, total: 0 } } : {}),
      ...(lateBy.has(Number(f.id)) ? { lateStepSummary: lateBy.get(Number(f.id))! } : {}),
      strongEffects: (effectsBy.get(Number(f.id)) ?? []).map((e) => e.description as string),
      // a commune agent's view of a fiche's scope is limited to its own instances (the scope's query reads no other)
      instanceIds: f.scope_all ? 'all' : (scopeBy.get(Number(f.id)) ?? []).map((s) => Number(s.id)),
      ...(rollout.has(Number(f.id)) ? { rollout: rollout.get(Number(f.id))! } : {}),
    })),
    instances: [...named.values()],
    perimeter: {
      services: [...new Set(perimeterKinds.map((r) => Number(r.service_id)))].map((id) => ({ id, name: serviceNames.get(id) ?? '' })),
      environments: [...new Set(perimeterKinds.map((r) => String(r.environment)))],
      communes: perimeterCommunes.map((r) => ({ id: Number(r.commune_id), name: communeNames.get(Number(r.commune_id)) ?? '' })),
    },
    milestones: milestones.map((m) => ({ dueDate: m.due_date, title: m.title, done: Boolean(m.done) })),
    // French order for the filters' lists (the query's ORDER BY compares bytes: Écully would follow Vénissieux)
    teams: sortFrench(teams.map((t) => ({ id: Number(t.id), name: String(t.name) })), (t) => t.name),
    services: services.map((s) => ({ id: Number(s.id), name: s.name })),
    communes: sortFrench(communes.map((c) => ({ id: Number(c.id), name: String(c.name) })), (c) => c.name),
    environments: envs,
    stepEvents: progress.map((a) => ({ ficheId: Number(a.fiche_id), at: String(a.at), stepsDone: Number(a.steps_done) })),
  };
}

/**
 * The steps late on `today` of the fiches given (not done, their own date, else their fiche's, passed), in their order,
 * with who does them: what the dashboard lists of the late fiches it shows. One statement whatever their number.
 */
export async function lateStepsOf(db: Knex, ficheIds: readonly number[], today: string): Promise<Map<number, DashFiche['steps']>> {
  const rows: Record<string, unknown>[] = await db('steps').join('fiches', 'fiches.id', 'steps.fiche_id')
    .leftJoin('users as step_user', 'step_user.id', 'steps.assignee_user_id').leftJoin('people as step_person', 'step_person.id', 'steps.assignee_person_id')
    .whereIn('steps.fiche_id', [...ficheIds]).whereNot('steps.status', 'fait').whereRaw('coalesce(steps.target_date, fiches.target_date) < ?', [today])
    .select('steps.fiche_id', 'steps.label', 'steps.status', 'steps.target_date', 'step_user.name as assignee_user_name', 'step_person.name as assignee_person_name')
    .orderBy(['steps.fiche_id', 'steps.position']);
  const out = new Map<number, DashFiche['steps']>();
  for (const r of rows) {
    const list = out.get(Number(r.fiche_id)) ?? [];
    list.push({
      label: String(r.label), status: r.status as Status, targetDate: (r.target_date as string | null) ?? null,
      assigneeName: (r.assignee_user_name as string | null) ?? (r.assignee_person_name as string | null) ?? null,
    });
    out.set(Number(r.fiche_id), list);
  }
  return out;
}
