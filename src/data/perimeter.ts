import type { Knex } from 'knex';
import type { PerimeterGroup } from '../domain/perimeter';
import { sortFrench } from '../domain/words';

/** The instances of the homologation's perimeter the reader may see (a commune's staff: its own). */
function perimeterInstances(db: Knex, planId: number, communeId: number | null): Knex.QueryBuilder {
  const q = db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').where('plan_instances.plan_id', planId);
  if (communeId !== null) q.where('instances.commune_id', communeId);
  return q;
}

/**
 * The perimeter counted in SQL: instances per service, environment and managing team, with how many belong to a
 * commune, in the order of the instance list (services' order, environment, then the group's first instance name),
 * so the table reads as when it was built from every instance. A few hundred rows for thousands of instances.
 */
export async function perimeterGroups(db: Knex, planId: number, communeId: number | null): Promise<PerimeterGroup[]> {
  const rows: Record<string, unknown>[] = await perimeterInstances(db, planId, communeId)
    .join('services', 'services.id', 'instances.service_id')
    .join('teams', 'teams.id', 'instances.team_id')
    .groupBy('instances.service_id', 'services.position', 'services.name', 'instances.environment', 'teams.id', 'teams.name')
    .select('instances.service_id', 'services.name as service_name', 'instances.environment', 'teams.name as team_name',
      db.raw('count(*) as n'), db.raw('count(instances.commune_id) as communal'), db.raw('min(instances.name) as first_name'))
    .orderBy([{ column: 'services.position' }, { column: 'services.name' }, { column: 'instances.environment' }, { column: 'first_name' }]);
  return rows.map((r) => ({
    serviceId: Number(r.service_id), serviceName: String(r.service_name), environment: String(r.environment), teamName: String(r.team_name),
    instances: Number(r.n), communal: Number(r.communal),
  }));
}

/**
 * The communes having instances in the perimeter the reader may see: how many, and their names in French order when
 * there are at most `limit` (none beyond: the page then links to the full table). Two statements whatever the count.
 */
export async function perimeterCommunes(db: Knex, planId: number, communeId: number | null, limit: number): Promise<{ total: number; communes: { id: number; name: string }[] }> {
  const ids = () => perimeterInstances(db, planId, communeId).whereNotNull('instances.commune_id').select('instances.commune_id');
  const [count, rows] = await Promise.all([
    db('communes').whereIn('id', ids()).count({ n: '*' }).first() as Promise<{ n: number | string } | undefined>,
    db('communes').whereIn('id', ids()).select('id', 'name').orderBy('id').limit(limit + 1) as Promise<{ id: number; name: string }[]>,
  ]);
  const total = Number(count?.n ?? 0);
  return { total, communes: total > limit ? [] : sortFrench(rows.map((c) => ({ id: Number(c.id), name: String(c.name) })), (c) => c.name) };
}
