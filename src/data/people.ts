import { frenchOrder } from '../domain/words';
import type { Knex } from 'knex';
import type { Actor } from '../domain/roles';
import type { Status } from '../domain/statuses';
import { stepDue } from '../domain/fiche';
import { auditedWrite, insertedId } from './write';

/** A named person without an account, who may be responsible for steps. */
export interface Person { id: number; name: string; email: string; function: string; openSteps: number }

/** Who may be responsible for a step: an active account ("u12") or a named person ("p3"), by name. */
export interface AssigneeOption { value: string; label: string }

export async function listPeople(db: Knex): Promise<Person[]> {
  const rows = await db('people')
    .leftJoin(db('steps').whereNot('status', 'fait').whereNotNull('assignee_person_id').groupBy('assignee_person_id')
      .select('assignee_person_id').count({ n: '*' }).as('open'), 'open.assignee_person_id', 'people.id')
    .select('people.*', 'open.n as open_steps').orderBy('people.name');
  return rows.map((r) => ({ id: Number(r.id), name: String(r.name), email: String(r.email), function: String(r.function), openSteps: Number(r.open_steps ?? 0) }));
}

export async function assigneeOptions(db: Knex): Promise<AssigneeOption[]> {
  const [users, people] = await Promise.all([
    db('users').where({ active: true }).whereNull('anonymized_at').select('id', 'name', 'email').orderBy('name'),
    db('people').select('id', 'name', 'function').orderBy('name'),
  ]);
  return [
    ...users.map((u) => ({ value: `u${u.id}`, label: `${u.name} (compte)` })),
    ...people.map((p) => ({ value: `p${p.id}`, label: `${p.name}${p.function ? `, ${p.function}` : ''} (sans compte)` })),
  ].sort((a, b) => frenchOrder.compare(a.label, b.label));
}

export type PersonSaveResult = { ok: true; id: number } | { ok: false; reason: 'duplicate' | 'not_found' | 'in_use' };

export async function savePerson(db: Knex, id: number | null, input: { name: string; email: string; function: string }, actor: Actor, at: Date): Promise<PersonSaveResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<PersonSaveResult> => {
    const row = { name: input.name, email: input.email.toLowerCase(), function: input.function };
    if (id === null) {
      const newId = insertedId(await trx('people').insert({ ...row, created_at: at.toISOString() }).returning('id'));
      await audit({ action: 'create', entityType: 'person', entityId: newId, summary: `Personne sans compte : ${input.name}`, after: row });
      return { ok: true, id: newId };
    }
    const before = await trx('people').where({ id }).first();
    if (!before) return { ok: false, reason: 'not_found' };
    await trx('people').where({ id }).update(row);
    await audit({ action: 'update', entityType: 'person', entityId: id, summary: `Personne sans compte : ${input.name}`, before: { name: before.name, email: before.email, function: before.function }, after: row });
    return { ok: true, id };
  }, { unique: { ok: false, reason: 'duplicate' } as const });
}

/** Removes a named person; refused while a step names them (hand their steps over first). */
export async function removePerson(db: Knex, id: number, actor: Actor, at: Date): Promise<PersonSaveResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<PersonSaveResult> => {
    const before = await trx('people').where({ id }).first();
    if (!before) return { ok: false, reason: 'not_found' };
    if (await trx('steps').where({ assignee_person_id: id }).first('id')) return { ok: false, reason: 'in_use' };
    await trx('people').where({ id }).delete();
    await audit({ action: 'delete', entityType: 'person', entityId: id, summary: `Personne sans compte : ${before.name}`, before: { name: before.name, email: before.email, function: before.function } });
    return { ok: true, id };
  });
}

/** A step assigned to someone, as their list shows it. */
export interface AssignedStep {
  id: number;
  label: string;
  status: Status;
  position: number;
  /** the step's own date, else its fiche's */
  due: string | null;
  ownDate: boolean;
  ficheId: number;
  ficheNumber: number;
  ficheTitle: string;
  planId: number;
  planTitle: string;
  /** a late notice was sent for its current date and the person has not acknowledged it */
  lateUnacknowledged?: boolean;
}

/**
 * The steps an account or a named person is responsible for, in homologations that are not archived: one query.
 * `assignee` is "u12" or "p3".
 */
export async function stepsAssignedTo(db: Knex, assignee: { userId: number } | { personId: number }, opts: { openOnly?: boolean } = {}): Promise<AssignedStep[]> {
  const q = db('steps').join('fiches', 'fiches.id', 'steps.fiche_id').join('plans', 'plans.id', 'fiches.plan_id')
    .whereNull('plans.archived_at')
    .select('steps.id', 'steps.label', 'steps.status', 'steps.position', 'steps.target_date', 'fiches.id as fiche_id', 'fiches.number as fiche_number',
      'fiches.title as fiche_title', 'fiches.target_date as fiche_target_date', 'plans.id as plan_id', 'plans.title as plan_title',
      'steps.late_notified_for', 'steps.late_acknowledged_at');
  if ('userId' in assignee) q.where('steps.assignee_user_id', assignee.userId);
  else q.where('steps.assignee_person_id', assignee.personId);
  if (opts.openOnly) q.whereNot('steps.status', 'fait');
  return (await q).map(assignedStepOf);
}

/** A step row joined with its fiche and homologation (as the two lists below select it) as an AssignedStep. */
function assignedStepOf(r: Record<string, unknown>): AssignedStep {
  const targetDate = (r.target_date as string | null | undefined) ?? null;
  const due = stepDue({ targetDate }, (r.fiche_target_date as string | null | undefined) ?? null);
  return {
    id: Number(r.id), label: String(r.label), status: r.status as Status, position: Number(r.position), due, ownDate: targetDate !== null,
    ficheId: Number(r.fiche_id), ficheNumber: Number(r.fiche_number), ficheTitle: String(r.fiche_title), planId: Number(r.plan_id), planTitle: String(r.plan_title),
    lateUnacknowledged: r.status !== 'fait' && due !== null && r.late_notified_for === due && !r.late_acknowledged_at,
  };
}

/**
 * Hands every open step of an account or a named person over to another assignee, in one transaction, one audit row
 * per step changed; the new assignee will be told of the assignment (its notice is keyed on the assignee).
 */
export async function reassignOpenSteps(
  db: Knex, from: { userId: number } | { personId: number }, to: { userId: number } | { personId: number }, actor: Actor, at: Date,
): Promise<number> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const q = trx('steps').whereNot('status', 'fait');
    if ('userId' in from) q.where('assignee_user_id', from.userId); else q.where('assignee_person_id', from.personId);
    const steps = await q.select('id', 'fiche_id', 'label');
    const target = 'userId' in to ? { assignee_user_id: to.userId, assignee_person_id: null } : { assignee_user_id: null, assignee_person_id: to.personId };
    // their fiches move to a new version: an edit form opened before the handover cannot put the old assignee back
    const ficheIds = [...new Set(steps.map((s) => Number(s.fiche_id)))];
    if (ficheIds.length) await trx('fiches').whereIn('id', ficheIds).update({ version: trx.raw('?? + 1', ['version']), updated_at: at.toISOString() });
    for (const s of steps) {
      const changed = await trx('steps').where({ id: s.id }).whereNot('status', 'fait').update(target);
      if (changed) {
        await audit({ action: 'update', entityType: 'step', entityId: Number(s.id), summary: `Étape « ${s.label} » confiée à un autre responsable`, before: { from }, after: { to, ficheId: Number(s.fiche_id) } });
      }
    }
    return steps.length;
  });
}

/** Whose open steps wait for a new responsible: suspended or removed accounts, and named people without an account. */
export interface Handover { from: string; name: string; kind: 'suspended' | 'removed' | 'person'; steps: AssignedStep[] }

export async function pendingHandovers(db: Knex): Promise<Handover[]> {
  const rows = await db('steps').join('fiches', 'fiches.id', 'steps.fiche_id').join('plans', 'plans.id', 'fiches.plan_id')
    .leftJoin('users', 'users.id', 'steps.assignee_user_id').leftJoin('people', 'people.id', 'steps.assignee_person_id')
    .whereNot('steps.status', 'fait').whereNull('plans.archived_at')
    .where((q) => q.where((u) => u.whereNotNull('steps.assignee_user_id').where((i) => i.where('users.active', false).orWhereNotNull('users.anonymized_at')))
      .orWhereNotNull('steps.assignee_person_id'))
    .select('steps.id', 'steps.label', 'steps.status', 'steps.position', 'steps.target_date', 'steps.assignee_user_id', 'steps.assignee_person_id',
      'users.name as user_name', 'users.anonymized_at', 'people.name as person_name', 'fiches.id as fiche_id', 'fiches.number as fiche_number',
      'fiches.title as fiche_title', 'fiches.target_date as fiche_target_date', 'plans.id as plan_id', 'plans.title as plan_title')
    .orderBy(['plans.id', 'fiches.number', 'steps.position']);
  const byKey = new Map<string, Handover>();
  for (const r of rows) {
    const from = r.assignee_user_id !== null && r.assignee_user_id !== undefined ? `u${r.assignee_user_id}` : `p${r.assignee_person_id}`;
    const kind = from.startsWith('p') ? 'person' : r.anonymized_at ? 'removed' : 'suspended';
    const entry = byKey.get(from) ?? { from, name: String(r.user_name ?? r.person_name ?? 'Compte supprimé'), kind, steps: [] };
    entry.steps.push(assignedStepOf(r));
    byKey.set(from, entry);
  }
  return [...byKey.values()].sort((a, b) => (a.kind === 'person' ? 1 : 0) - (b.kind === 'person' ? 1 : 0) || frenchOrder.compare(a.name, b.name));
}

/** "u12" or "p3" as the assignee it names. */
export function assigneeOf(value: string): { userId: number } | { personId: number } | undefined {
  const m = /^([up])(\d{1,9})$/.exec(value);
  if (!m) return undefined;
  return m[1] === 'u' ? { userId: Number(m[2]) } : { personId: Number(m[2]) };
}
