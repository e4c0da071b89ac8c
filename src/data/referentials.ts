import type { Knex } from 'knex';
import type { Environment } from '../domain/statuses';
import { type AuditActor, recordAudit } from './audit';
import { isForeignKeyViolation, isUniqueViolation } from './errors';

export interface Team { id: number; name: string; description: string }
export interface Commune { id: number; name: string; inseeCode: string | null }
export interface Service { id: number; name: string; description: string; position: number }
export interface Instance {
  id: number; serviceId: number; serviceName: string; environment: Environment; name: string;
  teamId: number; teamName: string; communeId: number | null; communeName: string | null;
}
export interface Milestone { id: number; planId: number; dueDate: string; title: string; done: boolean }

export type SaveResult = { ok: true; id: number } | { ok: false; reason: 'duplicate' | 'not_found' };
export type RemoveResult = { ok: true } | { ok: false; reason: 'in_use' | 'not_found' };

export interface Repository<T extends { id: number }, I> {
  entityType: string;
  list(db: Knex): Promise<T[]>;
  listWhere(db: Knex, column: string, value: number): Promise<T[]>;
  /** The rows the refinement keeps (a where clause on the table's select). */
  listBy(db: Knex, refine: (q: Knex.QueryBuilder) => void): Promise<T[]>;
  get(db: Knex, id: number): Promise<T | undefined>;
  create(db: Knex, input: I, actor: AuditActor, at: Date): Promise<SaveResult>;
  update(db: Knex, id: number, input: I, actor: AuditActor, at: Date): Promise<SaveResult>;
  remove(db: Knex, id: number, actor: AuditActor, at: Date): Promise<RemoveResult>;
}

interface Spec<T, I> {
  table: string;
  entityType: string;
  select: (db: Knex) => Knex.QueryBuilder;
  fromRow: (row: Record<string, unknown>) => T;
  toRow: (input: I) => Record<string, unknown>;
  label: (value: T | I) => string;
  /** Follow-up writes of a creation, in its transaction. */
  afterCreate?: (trx: Knex.Transaction, id: number, input: I) => Promise<void>;
}

/** One repository per reference table, every statement audited in the same transaction. */
function repository<T extends { id: number }, I>(spec: Spec<T, I>): Repository<T, I> {
  const get = async (db: Knex, id: number) => {
    const row = await spec.select(db).where(`${spec.table}.id`, id).first();
    return row ? spec.fromRow(row) : undefined;
  };
  return {
    entityType: spec.entityType,
    list: async (db) => (await spec.select(db)).map(spec.fromRow),
    listWhere: async (db, column, value) => (await spec.select(db).where(`${spec.table}.${column}`, value)).map(spec.fromRow),
    listBy: async (db, refine) => {
      const q = spec.select(db);
      refine(q);
      return (await q).map(spec.fromRow);
    },
    get,
    async create(db, input, actor, at) {
      try {
        return await db.transaction(async (trx) => {
          const [row] = await trx(spec.table).insert(spec.toRow(input)).returning('id');
          const id = Number(typeof row === 'object' ? row.id : row);
          await spec.afterCreate?.(trx, id, input);
          const after = await get(trx, id);
          await recordAudit(trx, { actor, at, action: 'create', entityType: spec.entityType, entityId: id, summary: spec.label(input), after });
          return { ok: true as const, id };
        });
      } catch (err) {
        if (isUniqueViolation(err)) return { ok: false, reason: 'duplicate' };
        throw err;
      }
    },
    async update(db, id, input, actor, at) {
      try {
        return await db.transaction(async (trx) => {
          const before = await get(trx, id);
          if (!before) return { ok: false as const, reason: 'not_found' as const };
          await trx(spec.table).where({ id }).update(spec.toRow(input));
          const after = await get(trx, id);
          await recordAudit(trx, { actor, at, action: 'update', entityType: spec.entityType, entityId: id, summary: spec.label(input), before, after });
          return { ok: true as const, id };
        });
      } catch (err) {
        if (isUniqueViolation(err)) return { ok: false, reason: 'duplicate' };
        throw err;
      }
    },
    async remove(db, id, actor, at) {
      try {
        return await db.transaction(async (trx) => {
          const before = await get(trx, id);
          if (!before) return { ok: false as const, reason: 'not_found' as const };
          await trx(spec.table).where({ id }).delete();
          await recordAudit(trx, { actor, at, action: 'delete', entityType: spec.entityType, entityId: id, summary: spec.label(before), before });
          return { ok: true as const };
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) return { ok: false, reason: 'in_use' };
        throw err;
      }
    },
  };
}

export interface TeamInput { name: string; description: string }
export const teams = repository<Team, TeamInput>({
  table: 'teams',
  entityType: 'team',
  select: (db) => db('teams').select('*').orderBy('name'),
  fromRow: (r) => ({ id: Number(r.id), name: String(r.name), description: String(r.description ?? '') }),
  toRow: (i) => ({ name: i.name, description: i.description }),
  label: (v) => v.name,
});

export interface CommuneInput { name: string; inseeCode: string | null }
export const communes = repository<Commune, CommuneInput>({
  table: 'communes',
  entityType: 'commune',
  select: (db) => db('communes').select('*').orderBy('name'),
  fromRow: (r) => ({ id: Number(r.id), name: String(r.name), inseeCode: (r.insee_code as string | null) ?? null }),
  toRow: (i) => ({ name: i.name, insee_code: i.inseeCode }),
  label: (v) => v.name,
});

export interface ServiceInput { name: string; description: string; position: number }
export const services = repository<Service, ServiceInput>({
  table: 'services',
  entityType: 'service',
  select: (db) => db('services').select('*').orderBy(['position', 'name']),
  fromRow: (r) => ({ id: Number(r.id), name: String(r.name), description: String(r.description ?? ''), position: Number(r.position) }),
  toRow: (i) => ({ name: i.name, description: i.description, position: i.position }),
  label: (v) => v.name,
});

export interface InstanceInput { serviceId: number; environment: Environment; name: string; teamId: number; communeId: number | null }
export const instances = repository<Instance, InstanceInput>({
  table: 'instances',
  entityType: 'instance',
  select: (db) =>
    db('instances')
      .join('services', 'services.id', 'instances.service_id')
      .join('teams', 'teams.id', 'instances.team_id')
      .leftJoin('communes', 'communes.id', 'instances.commune_id')
      .select('instances.*', 'services.name as service_name', 'teams.name as team_name', 'communes.name as commune_name')
      .orderBy(['services.position', 'services.name', 'instances.environment', 'instances.name']),
  fromRow: (r) => ({
    id: Number(r.id),
    serviceId: Number(r.service_id),
    serviceName: String(r.service_name),
    environment: r.environment as Environment,
    name: String(r.name),
    teamId: Number(r.team_id),
    teamName: String(r.team_name),
    communeId: r.commune_id === null ? null : Number(r.commune_id),
    communeName: (r.commune_name as string | null) ?? null,
  }),
  toRow: (i) => ({ service_id: i.serviceId, environment: i.environment, name: i.name, team_id: i.teamId, commune_id: i.communeId }),
  label: (v) => v.name,
  // A new instance of a service joins the perimeter of every homologation, not archived, that covers that service.
  afterCreate: async (trx, id, input) => {
    const plans = await trx('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').join('plans', 'plans.id', 'plan_instances.plan_id')
      .where('instances.service_id', input.serviceId).whereNull('plans.archived_at').distinct('plan_instances.plan_id');
    if (plans.length) await trx('plan_instances').insert(plans.map((p) => ({ plan_id: p.plan_id, instance_id: id })));
  },
});

/** The instances a homologation covers; a commune's own only when restricted to one. */
export async function instancesOfPlan(db: Knex, planId: number, communeId: number | null = null): Promise<Instance[]> {
  return instances.listBy(db, (q) => {
    q.whereIn('instances.id', db('plan_instances').where('plan_id', planId).select('instance_id'));
    if (communeId !== null) q.where('instances.commune_id', communeId);
  });
}

export interface MilestoneInput { planId: number; dueDate: string; title: string; done: boolean }
export const milestones = repository<Milestone, MilestoneInput>({
  table: 'milestones',
  entityType: 'milestone',
  select: (db) => db('milestones').select('*').orderBy(['due_date', 'id']),
  fromRow: (r) => ({ id: Number(r.id), planId: Number(r.plan_id), dueDate: String(r.due_date), title: String(r.title), done: Boolean(r.done) }),
  toRow: (i) => ({ plan_id: i.planId, due_date: i.dueDate, title: i.title, done: i.done }),
  label: (v) => v.title,
});

/** Instances a commune user may see: only its own commune's. */
export async function instancesOfCommune(db: Knex, communeId: number): Promise<Instance[]> {
  return instances.listWhere(db, 'commune_id', communeId);
}
