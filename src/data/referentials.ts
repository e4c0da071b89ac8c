import type { Knex } from 'knex';
import type { Environment, EnvironmentRef } from '../domain/statuses';
import { frenchCollator } from '../domain/words';
import type { AuditActor } from './audit';
import { auditedWrite, insertedId } from './write';

export interface Team { id: number; name: string; description: string }
export interface Commune {
  id: number; name: string; inseeCode: string | null;
  /** Sign-in through the identity provider: the commune's SIRET and its agents' e-mail domain, and whether its unknown agents may ask for access. */
  siret: string | null; agentDomain: string | null; accessRequests: boolean;
}
export interface Service { id: number; name: string; description: string; position: number }
export interface Instance {
  id: number; serviceId: number; serviceName: string; environment: Environment; environmentLabel: string; environmentPosition: number; name: string;
  teamId: number; teamName: string; communeId: number | null; communeName: string | null;
}
export interface Milestone { id: number; planId: number; dueDate: string; title: string; done: boolean }
export interface EnvironmentRow extends EnvironmentRef { id: number }

/** A write refused by a check made inside its transaction: the field it concerns, the status and the French message. */
export interface Refusal { field: string; status: 409 | 422; message: string }
export type SaveResult = { ok: true; id: number } | { ok: false; reason: 'duplicate' | 'not_found' } | { ok: false; reason: 'refused'; refusal: Refusal };
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
  /** Names in French order (Écully before Vénissieux): the database's ORDER BY compares bytes. */
  sortKey?: (value: T) => string;
  /** Follow-up writes of a creation, in its transaction. */
  afterCreate?: (trx: Knex.Transaction, id: number, input: I) => Promise<void>;
  /** Checks made inside a creation's or an update's transaction, before the write (rows locked there stay so until the end). */
  guard?: (trx: Knex.Transaction, input: I, before?: T) => Promise<Refusal | null>;
  /** Checks made inside a deletion's transaction, before the delete: true when other rows still use this one. */
  inUse?: (trx: Knex.Transaction, before: T) => Promise<boolean>;
}

const DUPLICATE = { ok: false, reason: 'duplicate' } as const;
const IN_USE = { ok: false, reason: 'in_use' } as const;

/** One repository per reference table, every statement audited in the same transaction. */
function repository<T extends { id: number }, I>(spec: Spec<T, I>): Repository<T, I> {
  const key = spec.sortKey;
  // a stable sort: rows with equal keys keep the query's order
  const ordered = (rows: T[]) => (key ? rows.sort((a, b) => frenchCollator.compare(key(a), key(b))) : rows);
  const get = async (db: Knex, id: number) => {
    const row = await spec.select(db).where(`${spec.table}.id`, id).first();
    return row ? spec.fromRow(row) : undefined;
  };
  return {
    entityType: spec.entityType,
    list: async (db) => ordered((await spec.select(db)).map(spec.fromRow)),
    listWhere: async (db, column, value) => ordered((await spec.select(db).where(`${spec.table}.${column}`, value)).map(spec.fromRow)),
    listBy: async (db, refine) => {
      const q = spec.select(db);
      refine(q);
      return ordered((await q).map(spec.fromRow));
    },
    get,
    create: (db, input, actor, at) => auditedWrite(db, { actor, at }, async (trx, audit): Promise<SaveResult> => {
      const refusal = (await spec.guard?.(trx, input)) ?? null;
      if (refusal) return { ok: false, reason: 'refused', refusal };
      const id = insertedId(await trx(spec.table).insert(spec.toRow(input)).returning('id'));
      await spec.afterCreate?.(trx, id, input);
      const after = await get(trx, id);
      await audit({ action: 'create', entityType: spec.entityType, entityId: id, summary: spec.label(input), after });
      return { ok: true, id };
    }, { unique: DUPLICATE }),
    update: (db, id, input, actor, at) => auditedWrite(db, { actor, at }, async (trx, audit): Promise<SaveResult> => {
      const before = await get(trx, id);
      if (!before) return { ok: false, reason: 'not_found' };
      const refusal = (await spec.guard?.(trx, input, before)) ?? null;
      if (refusal) return { ok: false, reason: 'refused', refusal };
      await trx(spec.table).where({ id }).update(spec.toRow(input));
      const after = await get(trx, id);
      await audit({ action: 'update', entityType: spec.entityType, entityId: id, summary: spec.label(input), before, after });
      return { ok: true, id };
    }, { unique: DUPLICATE }),
    remove: (db, id, actor, at) => auditedWrite(db, { actor, at }, async (trx, audit): Promise<RemoveResult> => {
      const before = await get(trx, id);
      if (!before) return { ok: false, reason: 'not_found' };
      if (await spec.inUse?.(trx, before)) return { ok: false, reason: 'in_use' };
      await trx(spec.table).where({ id }).delete();
      await audit({ action: 'delete', entityType: spec.entityType, entityId: id, summary: spec.label(before), before });
      return { ok: true };
    }, { foreignKey: IN_USE }),
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
  sortKey: (v) => v.name,
});

export interface CommuneInput { name: string; inseeCode: string | null; siret?: string | null; agentDomain?: string | null; accessRequests?: boolean }
export const communes = repository<Commune, CommuneInput>({
  table: 'communes',
  entityType: 'commune',
  select: (db) => db('communes').select('*').orderBy('name'),
  fromRow: (r) => ({
    id: Number(r.id), name: String(r.name), inseeCode: (r.insee_code as string | null) ?? null,
    siret: (r.siret as string | null) ?? null, agentDomain: (r.agent_domain as string | null) ?? null, accessRequests: Boolean(r.access_requests),
  }),
  toRow: (i) => ({
    name: i.name, insee_code: i.inseeCode,
    ...(i.siret !== undefined ? { siret: i.siret } : {}), ...(i.agentDomain !== undefined ? { agent_domain: i.agentDomain } : {}),
    ...(i.accessRequests !== undefined ? { access_requests: i.accessRequests } : {}),
  }),
  label: (v) => v.name,
  sortKey: (v) => v.name,
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
      .leftJoin('environments', 'environments.code', 'instances.environment')
      .select('instances.*', 'services.name as service_name', 'teams.name as team_name', 'communes.name as commune_name', 'environments.label as environment_label', 'environments.position as environment_position')
      .orderBy(['services.position', 'services.name', 'instances.environment', 'instances.name']),
  fromRow: (r) => ({
    id: Number(r.id),
    serviceId: Number(r.service_id),
    serviceName: String(r.service_name),
    environment: r.environment as Environment,
    environmentLabel: String(r.environment_label ?? r.environment),
    // an environment no longer listed comes last
    environmentPosition: r.environment_position === null || r.environment_position === undefined ? Number.MAX_SAFE_INTEGER : Number(r.environment_position),
    name: String(r.name),
    teamId: Number(r.team_id),
    teamName: String(r.team_name),
    communeId: r.commune_id === null ? null : Number(r.commune_id),
    communeName: (r.commune_name as string | null) ?? null,
  }),
  toRow: (i) => ({ service_id: i.serviceId, environment: i.environment, name: i.name, team_id: i.teamId, commune_id: i.communeId }),
  label: (v) => v.name,
  // The environment named must be in the list, its row share-locked until the end of the write: a deletion of
  // that environment (which locks it for update) waits for this write and then sees the instance, or comes first
  // and this write sees it gone.
  guard: async (trx, input) => {
    const env = await trx('environments').where('code', input.environment).forShare().first('id');
    return env ? null : { field: 'environment', status: 422, message: "Cet environnement n'existe plus : choisissez-en un autre." };
  },
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

export interface EnvironmentInput { code: string; label: string; position: number }
const countInstancesIn = async (trx: Knex.Transaction, code: string) =>
  Number((await trx('instances').where('environment', code).count({ n: '*' }).first())?.n ?? 0);
/**
 * The organisation's environments. Instances name one by its code (a string, no foreign key): a deletion, and a
 * change of code, lock the environment's row and count the instances using it in the same transaction; either is
 * refused while one does (the label, what people read, may change at any time).
 */
export const environments = repository<EnvironmentRow, EnvironmentInput>({
  table: 'environments',
  entityType: 'environment',
  select: (db) => db('environments').select('*').orderBy(['position', 'label']),
  fromRow: (r) => ({ id: Number(r.id), code: String(r.code), label: String(r.label), position: Number(r.position) }),
  toRow: (i) => ({ code: i.code, label: i.label, position: i.position }),
  label: (v) => v.label,
  guard: async (trx, input, before) => {
    if (!before || before.code === input.code) return null;
    await trx('environments').where('id', before.id).forUpdate().first('id');
    const used = await countInstancesIn(trx, before.code);
    return used ? { field: 'code', status: 409, message: `Le code ne peut pas changer : ${used >= 2 ? `${used} instances sont` : 'une instance est'} dans cet environnement. Seul son libellé peut changer.` } : null;
  },
  inUse: async (trx, before) => {
    await trx('environments').where('id', before.id).forUpdate().first('id');
    return (await countInstancesIn(trx, before.code)) > 0;
  },
});

/** The environments, in the list's order, for labels and columns: one statement. */
export async function environmentList(db: Knex): Promise<EnvironmentRef[]> {
  return (await environments.list(db)).map(({ code, label, position }) => ({ code, label, position }));
}
