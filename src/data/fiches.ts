import type { Knex } from 'knex';
import type { ConclusionCount, Owner, SideEffect, StepDetail } from '../domain/fiche';
import { renumberSteps } from '../domain/fiche';
import type { Actor } from '../domain/roles';
import type { Environment, SideEffectLevel, Status } from '../domain/statuses';
import { reads } from './reads';
import { auditedWrite, chunks, insertedId, Refused } from './write';

export interface FicheSummary {
  id: number;
  number: number;
  title: string;
  status: Status;
  targetDate: string | null;
  owners: Owner[];
  stepsDone: number;
  stepsTotal: number;
}

export interface ScopeInstance {
  id: number;
  name: string;
  serviceName: string;
  environment: Environment;
  /** The environment's label in the organisation's list (its code when no longer listed). */
  environmentLabel: string;
  communeId: number | null;
  communeName: string | null;
}

export interface ProgressNote {
  id: number;
  notedOn: string;
  createdAt: string;
  body: string;
  statusBefore: Status | null;
  statusAfter: Status | null;
  authorName: string;
  /** The commune whose agent wrote the note (labelled with it), else null: the project team's. */
  communeId: number | null;
  communeName: string | null;
}

/** The fields a fiche holds itself, as read and as written. */
interface FicheFields {
  number: number;
  title: string;
  finding: string;
  targetDate: string | null;
  status: Status;
  conclusion: string;
  conclusionCounts: ConclusionCount[];
  costAmount: number | null;
  costSource: string;
  scopeAll: boolean;
}

export interface FicheDetail extends FicheFields {
  id: number;
  /** Followed instance by instance (fiche_rollouts). */
  rollout: boolean;
  planId: number;
  scope: ScopeInstance[];
  owners: Owner[];
  steps: StepDetail[];
  sideEffects: (SideEffect & { id: number })[];
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface FicheInput extends FicheFields {
  /** Followed instance by instance; undefined: not given, the fiche keeps its own (an import). */
  rollout?: boolean;
  instanceIds: number[];
  owners: { teamId: number; serviceId: number | null }[];
  steps: {
    id: number | null; position: number; label: string; status: Status; forCommunes?: boolean;
    /** undefined: not given, an existing step keeps its own */
    assigneeUserId?: number | null; assigneePersonId?: number | null; targetDate?: string | null;
  }[];
  sideEffects: { level: SideEffectLevel; description: string }[];
}

const stepOf = (s: {
  id: number; position: number; label: string; status: Status; for_communes: unknown;
  assignee_user_id?: number | null; assignee_person_id?: number | null; assignee_user_name?: string | null; assignee_person_name?: string | null; target_date?: string | null;
}): StepDetail => ({
  id: Number(s.id), position: Number(s.position), label: s.label, status: s.status, forCommunes: Boolean(s.for_communes),
  assigneeUserId: s.assignee_user_id === null || s.assignee_user_id === undefined ? null : Number(s.assignee_user_id),
  assigneePersonId: s.assignee_person_id === null || s.assignee_person_id === undefined ? null : Number(s.assignee_person_id),
  assigneeName: s.assignee_user_name ?? s.assignee_person_name ?? null,
  targetDate: s.target_date ?? null,
});

/** Steps with their responsible person's name (an account's or a named person's). */
export const stepsWithAssignees = (db: Knex) => db('steps')
  .leftJoin('users as step_user', 'step_user.id', 'steps.assignee_user_id')
  .leftJoin('people as step_person', 'step_person.id', 'steps.assignee_person_id')
  .select('steps.*', 'step_user.name as assignee_user_name', 'step_person.name as assignee_person_name');

/** Restricts a fiche query to what a commune may see: fiches whose scope touches its instances. */
export function visibleTo(query: Knex.QueryBuilder, db: Knex, communeId: number | null): Knex.QueryBuilder {
  if (communeId === null) return query;
  return query.where((q) => {
    q.where((all) =>
      all.where('fiches.scope_all', true).whereExists(
        db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').select(db.raw('1'))
          .whereRaw('plan_instances.plan_id = fiches.plan_id').where('instances.commune_id', communeId),
      ),
    ).orWhereExists(
      db('fiche_instances')
        .join('instances', 'instances.id', 'fiche_instances.instance_id')
        .select(db.raw('1'))
        .whereRaw('fiche_instances.fiche_id = fiches.id')
        .where('instances.commune_id', communeId),
    );
  });
}

const ownerOf = (r: { team_id: number; team_name: string; service_id: number | null; service_name: string | null }): Owner => ({
  teamId: r.team_id, teamName: r.team_name, serviceId: r.service_id ?? null, serviceName: r.service_name ?? null,
});

export async function ownersOf(db: Knex, ficheIds: number[]): Promise<Map<number, Owner[]>> {
  const rows = ficheIds.length
    ? await db('fiche_owners')
        .join('teams', 'teams.id', 'fiche_owners.team_id')
        .leftJoin('services', 'services.id', 'fiche_owners.service_id')
        .whereIn('fiche_owners.fiche_id', ficheIds)
        .select('fiche_owners.fiche_id', 'fiche_owners.team_id', 'teams.name as team_name', 'fiche_owners.service_id', 'services.name as service_name')
        .orderBy('fiche_owners.id')
    : [];
  const byFiche = new Map<number, Owner[]>();
  for (const r of rows) {
    const list = byFiche.get(r.fiche_id) ?? [];
    list.push(ownerOf(r));
    byFiche.set(r.fiche_id, list);
  }
  return byFiche;
}

/** A fiche's row as the lists read it. */
export interface FicheListRow { id: number; number: number; title: string; status: Status; target_date: string | null }

/** The plan's fiches, in number order, with owners and step counts: three queries whatever the size. */
export async function listFiches(db: Knex, planId: number, communeId: number | null): Promise<FicheSummary[]> {
  const rows: FicheListRow[] = await visibleTo(db('fiches').where('fiches.plan_id', planId), db, communeId)
    .select('fiches.id', 'fiches.number', 'fiches.title', 'fiches.status', 'fiches.target_date')
    .orderBy('fiches.number');
  return summariesOf(db, rows);
}

/** The fiches given, in their order, with their owners and step counts: two queries whatever their number (none for none). */
export async function summariesOf(db: Knex, rows: readonly FicheListRow[]): Promise<FicheSummary[]> {
  const ids = rows.map((r) => Number(r.id));
  const [owners, counts] = await Promise.all([
    ownersOf(db, ids),
    ids.length
      ? db('steps').whereIn('fiche_id', ids).groupBy('fiche_id')
          .select('fiche_id', db.raw('count(*) as total'), db.raw("sum(case when status = 'fait' then 1 else 0 end) as done"))
      : Promise.resolve([]),
  ]);
  const countBy = new Map<number, { done: number; total: number }>(
    (counts as { fiche_id: number; total: number; done: number }[]).map((c) => [Number(c.fiche_id), { done: Number(c.done), total: Number(c.total) }]),
  );
  return rows.map((r) => ({
    id: Number(r.id),
    number: Number(r.number),
    title: r.title,
    status: r.status,
    targetDate: r.target_date ?? null,
    owners: owners.get(Number(r.id)) ?? [],
    stepsDone: countBy.get(Number(r.id))?.done ?? 0,
    stepsTotal: countBy.get(Number(r.id))?.total ?? 0,
  }));
}

/**
 * A fiche with everything it holds, or undefined when it does not exist or is not visible to the commune: the
 * agenda's read of several fiches (one mapping of a fiche), the scope narrowed to the commune's own instances.
 */
export async function getFiche(db: Knex, id: number, communeId: number | null = null): Promise<FicheDetail | undefined> {
  if (communeId !== null && !(await visibleTo(db('fiches').where('fiches.id', id), db, communeId).select('fiches.id').first())) return undefined;
  const [fiche] = await getFiches(db, [id]);
  if (!fiche || communeId === null) return fiche;
  // A commune agent sees its own instances in the scope, never another commune's.
  return { ...fiche, scope: fiche.scope.filter((s) => s.communeId === communeId) };
}

export async function scopeInstanceIds(db: Knex, ficheId: number): Promise<number[]> {
  return (await db('fiche_instances').where('fiche_id', ficheId).select('instance_id')).map((r) => Number(r.instance_id));
}

/**
 * A fiche's progress notes, newest first, each with the commune that wrote it (if a commune's agent did). With
 * `communeId` (a commune's staff reading), the project team's notes and that commune's own only, never another commune's.
 */
export async function listNotes(db: Knex, ficheId: number, communeId: number | null = null): Promise<ProgressNote[]> {
  const query = db('progress_notes')
    .leftJoin('users', 'users.id', 'progress_notes.author_id')
    .leftJoin('communes', 'communes.id', 'progress_notes.commune_id')
    .where('progress_notes.fiche_id', ficheId)
    .select('progress_notes.*', 'users.name as author_name', 'communes.name as commune_name')
    .orderBy([{ column: 'progress_notes.noted_on', order: 'desc' }, { column: 'progress_notes.id', order: 'desc' }]);
  if (communeId !== null) query.where((q) => q.whereNull('progress_notes.commune_id').orWhere('progress_notes.commune_id', communeId));
  const rows = await query;
  return rows.map((r) => ({
    id: r.id, notedOn: r.noted_on, createdAt: r.created_at, body: r.body,
    statusBefore: r.status_before ?? null, statusAfter: r.status_after ?? null,
    authorName: r.author_name ?? 'Compte supprimé',
    communeId: r.commune_id === null || r.commune_id === undefined ? null : Number(r.commune_id),
    communeName: r.commune_name ?? null,
  }));
}

export async function findByNumber(db: Knex, planId: number, number: number): Promise<{ id: number; title: string } | undefined> {
  return db('fiches').where({ plan_id: planId, number }).select('id', 'title').first();
}

/**
 * The scope's instances must be in the homologation's perimeter, checked under the homologation's row lock (the
 * perimeter's settings take it too): an instance removed from the perimeter meanwhile never lands in a fiche.
 */
async function checkPerimeter(trx: Knex, ficheId: number, instanceIds: number[]): Promise<void> {
  const fiche = await trx('fiches').where('id', ficheId).select('plan_id').first();
  await trx('plans').where('id', fiche.plan_id).update({ id: trx.raw('??', ['id']) });
  const inside = new Set((await trx('plan_instances').where('plan_id', fiche.plan_id).whereIn('instance_id', instanceIds).select('instance_id')).map((r) => Number(r.instance_id)));
  const outside = instanceIds.filter((id) => !inside.has(id));
  // thrown inside the save's transaction, so nothing of it is written
  if (outside.length) {
    throw new Refused({ ok: false, reason: 'outside_perimeter', instanceIds: outside } satisfies FicheSaveResult, `Instances hors du périmètre : ${outside.join(', ')}`);
  }
}

async function writeChildren(trx: Knex, ficheId: number, input: FicheInput): Promise<void> {
  // Steps keep their ids so their history can be followed; the others are replaced as a whole.
  const steps = renumberSteps(input.steps);
  const keptIds = steps.flatMap((s) => (s.id ? [s.id] : []));
  // An id that is not one of this fiche's steps (another fiche's, unknown, repeated) would be neither updated
  // nor inserted, and its step silently deleted: the save fails instead.
  const own = new Set((await trx('steps').where('fiche_id', ficheId).select('id')).map((r) => Number(r.id)));
  const unknown = keptIds.filter((id, i) => !own.has(id) || keptIds.indexOf(id) !== i);
  if (unknown.length) {
    const stepIds = [...new Set(unknown)];
    throw new Refused({ ok: false, reason: 'unknown_step', stepIds } satisfies FicheSaveResult, `Actions inconnues de la fiche : ${stepIds.join(', ')}`);
  }
  await trx('steps').where('fiche_id', ficheId).whereNotIn('id', keptIds).delete();
  for (const step of steps) {
    // who does it and by when: written when given (an import, which does not carry them, leaves them as they are)
    const given = {
      ...(step.assigneeUserId !== undefined ? { assignee_user_id: step.assigneeUserId } : {}),
      ...(step.assigneePersonId !== undefined ? { assignee_person_id: step.assigneePersonId } : {}),
      ...(step.targetDate !== undefined ? { target_date: step.targetDate } : {}),
    };
    const row = { position: step.position, label: step.label, status: step.status, for_communes: Boolean(step.forCommunes), ...given };
    if (step.id) {
      await trx('steps').where({ id: step.id, fiche_id: ficheId }).update(row);
    } else {
      await trx('steps').insert({ fiche_id: ficheId, ...row });
    }
  }
  await trx('side_effects').where('fiche_id', ficheId).delete();
  if (input.sideEffects.length) {
    await trx('side_effects').insert(input.sideEffects.map((e, i) => ({ fiche_id: ficheId, position: i + 1, level: e.level, description: e.description })));
  }
  await trx('conclusion_counts').where('fiche_id', ficheId).delete();
  if (input.conclusionCounts.length) {
    await trx('conclusion_counts').insert(input.conclusionCounts.map((c, i) => ({ fiche_id: ficheId, position: i + 1, count: c.count, total: c.total, label: c.label })));
  }
  await trx('fiche_owners').where('fiche_id', ficheId).delete();
  if (input.owners.length) {
    await trx('fiche_owners').insert(input.owners.map((o) => ({ fiche_id: ficheId, team_id: o.teamId, service_id: o.serviceId })));
  }
  await trx('fiche_instances').where('fiche_id', ficheId).delete();
  if (!input.scopeAll && input.instanceIds.length) {
    await checkPerimeter(trx, ficheId, input.instanceIds);
    await trx('fiche_instances').insert(input.instanceIds.map((instanceId) => ({ fiche_id: ficheId, instance_id: instanceId })));
  }
}

function columns(input: FicheInput) {
  return {
    number: input.number, title: input.title, finding: input.finding, target_date: input.targetDate, status: input.status,
    conclusion: input.conclusion, cost_amount: input.costAmount, cost_source: input.costSource, scope_all: input.scopeAll,
    ...(input.rollout !== undefined ? { rollout: input.rollout } : {}),
  };
}

/** What the audit trail keeps of a fiche: its fields and children, with the ids of its scope. */
async function auditView(trx: Knex, id: number) {
  // the scope of a fiche on the whole perimeter is kept as 'tout': the perimeter need not be read
  const [fiche] = await getFiches(trx, [id], { perimeter: false });
  if (!fiche) return undefined;
  const { scope, ...rest } = fiche;
  return { ...rest, scopeInstanceIds: fiche.scopeAll ? 'tout' : scope.map((s) => s.id) };
}

/**
 * Takes the fiche's row for the rest of the transaction, before anything of it is read: a no-op update, which is
 * a row lock on PostgreSQL and the database's write lock on SQLite. Another process's write of the fiche then
 * waits for this transaction to end, and what this one reads next is the latest committed state, never a stale
 * one. With `version`, only if the fiche is still at that version. False when no row was taken.
 */
async function lockFiche(trx: Knex.Transaction, id: number, version?: number): Promise<boolean> {
  const query = trx('fiches').where({ id });
  if (version !== undefined) query.where({ version });
  return (await query.update({ version: trx.raw('??', ['version']) })) > 0;
}

/** The one way a fiche's version moves: by one, from the version read under the lock, in the same statement. */
const nextVersion = (trx: Knex.Transaction) => trx.raw('?? + 1', ['version']);

export type FicheSaveResult =
  | { ok: true; id: number }
  | { ok: false; reason: 'duplicate_number' | 'conflict' | 'not_found' }
  | { ok: false; reason: 'unknown_step'; stepIds: number[] }
  | { ok: false; reason: 'outside_perimeter'; instanceIds: number[] };

const DUPLICATE_NUMBER = { ok: false, reason: 'duplicate_number' } as const;

export async function createFiche(db: Knex, planId: number, input: FicheInput, actor: Actor, at: Date): Promise<FicheSaveResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<FicheSaveResult> => {
    const id = insertedId(await trx('fiches')
      .insert({ ...columns(input), plan_id: planId, version: 1, created_at: at.toISOString(), updated_at: at.toISOString() })
      .returning('id'));
    await writeChildren(trx, id, input);
    await recordProgress(trx, [id], at);
    await audit({ action: 'create', entityType: 'fiche', entityId: id, summary: `Fiche n°${input.number} : ${input.title}`, after: await auditView(trx, id) });
    return { ok: true, id };
  }, { unique: DUPLICATE_NUMBER });
}

/**
 * Saves a fiche only if nobody saved it since the form was opened (optimistic locking on `version`).
 */
export async function updateFiche(
  db: Knex, id: number, expectedVersion: number, input: FicheInput, actor: Actor, at: Date,
): Promise<FicheSaveResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<FicheSaveResult> => {
    // the homologation's row before the fiche's, in the order the import and the bulk changes take them (they lock the
    // homologation, then its fiches): the other order could deadlock with them on PostgreSQL
    const owner = await trx('fiches').where({ id }).first('plan_id');
    if (owner) await trx('plans').where('id', owner.plan_id).update({ id: trx.raw('??', ['id']) });
    if (!(await lockFiche(trx, id, expectedVersion))) {
      const exists = await trx('fiches').where({ id }).first('id');
      return { ok: false, reason: exists ? 'conflict' : 'not_found' };
    }
    const before = await auditView(trx, id);
    if (!before) return { ok: false, reason: 'not_found' };
    const updated = await trx('fiches')
      .where({ id, version: expectedVersion })
      .update({ ...columns(input), version: nextVersion(trx), updated_at: at.toISOString() });
    if (updated === 0) return { ok: false, reason: 'conflict' };
    await writeChildren(trx, id, input);
    await recordProgress(trx, [id], at);
    await audit({ action: 'update', entityType: 'fiche', entityId: id, summary: `Fiche n°${input.number} : ${input.title}`, before, after: await auditView(trx, id) });
    return { ok: true, id };
  }, { unique: DUPLICATE_NUMBER });
}

export async function deleteFiche(db: Knex, id: number, actor: Actor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    if (!(await lockFiche(trx, id))) return false;
    const before = await auditView(trx, id);
    if (!before) return false;
    await trx('fiches').where({ id }).delete();
    await audit({ action: 'delete', entityType: 'fiche', entityId: id, summary: `Fiche n°${before.number} : ${before.title}`, before });
    return true;
  });
}

/**
 * Adds a dated progress note; when it changes the status, the fiche's version moves too. The fiche is locked
 * before its status is read, so an edit committed meanwhile is seen (and an edit form opened before this note
 * is refused), never overwritten at the same version.
 */
export async function addNote(
  db: Knex, ficheId: number, note: { body: string; notedOn: string; status: Status | null }, actor: Actor, at: Date,
): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    if (!(await lockFiche(trx, ficheId))) return false;
    const fiche = await trx('fiches').where({ id: ficheId }).select('status', 'version', 'number').first();
    if (!fiche) return false;
    const changes = note.status !== null && note.status !== fiche.status;
    const noteId = insertedId(await trx('progress_notes').insert({
      fiche_id: ficheId, author_id: actor.id, noted_on: note.notedOn, created_at: at.toISOString(), body: note.body,
      status_before: changes ? fiche.status : null, status_after: changes ? note.status : null,
    }).returning('id'));
    if (changes) {
      const updated = await trx('fiches').where({ id: ficheId, version: fiche.version })
        .update({ status: note.status, version: nextVersion(trx), updated_at: at.toISOString() });
      // Cannot happen while the row is held; if it ever did, nothing of this note is kept.
      if (updated !== 1) throw new Error(`La fiche ${ficheId} a changé pendant l'ajout du point d'avancement.`);
    }
    await audit({
      action: 'note', entityType: 'fiche', entityId: ficheId,
      summary: `Point d'avancement sur la fiche n°${fiche.number}`,
      before: changes ? { status: fiche.status } : undefined,
      after: { noteId, notedOn: note.notedOn, body: note.body, ...(changes ? { status: note.status } : {}) },
    });
    return true;
  });
}

/**
 * Several fiches with everything they hold (no commune restriction), in a fixed number of queries:
 * what the agenda needs, whatever the size of the plan.
 */
export async function getFiches(db: Knex, ids: number[], { perimeter = true }: { perimeter?: boolean } = {}): Promise<FicheDetail[]> {
  if (!ids.length) return [];
  const idsQuery = () => db('fiches').whereIn('id', ids).select('id');
  const [rows, partScope, allInstances, owners, steps, effects, counts] = await reads(db,
    () => db('fiches').whereIn('id', idsQuery()).select('*').orderBy('number'),
    () => db('fiche_instances').join('instances', 'instances.id', 'fiche_instances.instance_id').join('services', 'services.id', 'instances.service_id')
      .leftJoin('communes', 'communes.id', 'instances.commune_id').leftJoin('environments', 'environments.code', 'instances.environment').whereIn('fiche_instances.fiche_id', idsQuery())
      .select('fiche_instances.fiche_id', 'instances.id', 'instances.name', 'instances.environment', 'environments.label as environment_label', 'instances.commune_id', 'services.name as service_name', 'communes.name as commune_name')
      .orderBy(['services.position', 'instances.environment', 'instances.name']),
    // a fiche on the whole perimeter lists the perimeter: not read when the caller needs no scope of such a fiche
    () => (!perimeter ? Promise.resolve([]) : db('instances').join('services', 'services.id', 'instances.service_id').leftJoin('communes', 'communes.id', 'instances.commune_id')
      .leftJoin('environments', 'environments.code', 'instances.environment')
      .join('plan_instances', 'plan_instances.instance_id', 'instances.id').whereIn('plan_instances.plan_id', db('fiches').whereIn('id', ids).distinct('plan_id'))
      .select('plan_instances.plan_id as scope_plan_id', 'instances.id', 'instances.name', 'instances.environment', 'environments.label as environment_label', 'instances.commune_id', 'services.name as service_name', 'communes.name as commune_name')
      .orderBy(['services.position', 'instances.environment', 'instances.name'])),
    () => db('fiche_owners').join('teams', 'teams.id', 'fiche_owners.team_id').leftJoin('services', 'services.id', 'fiche_owners.service_id')
      .whereIn('fiche_owners.fiche_id', idsQuery())
      .select('fiche_owners.fiche_id', 'fiche_owners.team_id', 'teams.name as team_name', 'fiche_owners.service_id', 'services.name as service_name').orderBy('fiche_owners.id'),
    () => stepsWithAssignees(db).whereIn('steps.fiche_id', idsQuery()).orderBy(['steps.fiche_id', 'steps.position']),
    () => db('side_effects').whereIn('fiche_id', idsQuery()).orderBy(['fiche_id', 'position']),
    () => db('conclusion_counts').whereIn('fiche_id', idsQuery()).orderBy(['fiche_id', 'position']),
  );
  const by = <T extends { fiche_id: number }>(list: T[]) => {
    const map = new Map<number, T[]>();
    for (const r of list) {
      const k = Number(r.fiche_id);
      const l = map.get(k);
      if (l) l.push(r); else map.set(k, [r]);
    }
    return map;
  };
  const scopeBy = by(partScope);
  const ownersBy = by(owners);
  const stepsBy = by(steps);
  const effectsBy = by(effects);
  const countsBy = by(counts);
  const toScope = (s: Record<string, unknown>): ScopeInstance => ({
    id: Number(s.id), name: String(s.name), serviceName: String(s.service_name), environment: s.environment as Environment,
    environmentLabel: String(s.environment_label ?? s.environment),
    communeId: s.commune_id === null ? null : Number(s.commune_id), communeName: (s.commune_name as string | null) ?? null,
  });
  return rows.map((row) => {
    const id = Number(row.id);
    return {
      id, planId: row.plan_id, number: row.number, title: row.title, finding: row.finding, targetDate: row.target_date ?? null, status: row.status,
      conclusion: row.conclusion,
      conclusionCounts: (countsBy.get(id) ?? []).map((c) => ({ count: c.count, total: c.total, label: c.label })),
      costAmount: row.cost_amount ?? null, costSource: row.cost_source, scopeAll: Boolean(row.scope_all), rollout: Boolean(row.rollout),
      scope: (row.scope_all ? allInstances.filter((i) => Number(i.scope_plan_id) === Number(row.plan_id)) : scopeBy.get(id) ?? []).map(toScope),
      owners: (ownersBy.get(id) ?? []).map(ownerOf),
      steps: (stepsBy.get(id) ?? []).map(stepOf),
      sideEffects: (effectsBy.get(id) ?? []).map((e) => ({ id: e.id, level: e.level, description: e.description })),
      version: row.version, createdAt: row.created_at, updatedAt: row.updated_at,
    };
  });
}


/**
 * Records, for each of these fiches, how many of its steps are done now: written in the transaction of every change
 * that can move that number (a fiche's save, a bulk change of steps, "Mes actions", a renewal), it is the compact
 * history the dashboard's trend draws.
 */
export async function recordProgress(trx: Knex, ficheIds: readonly number[], at: Date): Promise<void> {
  for (const part of chunks([...new Set(ficheIds)])) {
    const done = new Map<number, number>((await trx('steps').whereIn('fiche_id', part).groupBy('fiche_id')
      .select('fiche_id', trx.raw("sum(case when status = 'fait' then 1 else 0 end) as done")))
      .map((r: { fiche_id: number; done: number | string | null }) => [Number(r.fiche_id), Number(r.done ?? 0)]));
    await trx('fiche_progress').insert(part.map((id) => ({ fiche_id: id, at: at.toISOString(), steps_done: done.get(id) ?? 0 })));
  }
}
