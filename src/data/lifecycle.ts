import type { Knex } from 'knex';
import type { Owner } from '../domain/fiche';
import type { Outcome } from '../domain/homologation';
import type { Actor } from '../domain/roles';
import type { Status } from '../domain/statuses';
import { ownersOf, recordProgress, visibleTo } from './fiches';
import { reads } from './reads';
import { auditedWrite, insertedId } from './write';

/** A condition of the decision that counts, followed as a fiche. */
export interface ConditionFiche {
  id: number;
  number: number;
  title: string;
  finding: string;
  status: Status;
  targetDate: string | null;
  owners: Owner[];
}

export interface DecisionConditions {
  /** The decision that counts (latest by date, then latest recorded), if any. */
  decision: { id: number; outcome: Outcome; decidedOn: string; authority: string } | null;
  /** Its conditions, in fiche number order. */
  fiches: ConditionFiche[];
}

const latestSignature = (db: Knex, planId: number) =>
  db('signatures').where('plan_id', planId).orderBy([{ column: 'decided_on', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(1);

/**
 * The conditions of the homologation's decision that counts, with their owners: three reads whatever their number.
 * For a commune's staff, only the condition fiches whose scope touches its instances.
 */
export async function decisionConditions(db: Knex, planId: number, communeId: number | null = null): Promise<DecisionConditions> {
  const [decision, rows] = await reads(db,
    () => latestSignature(db, planId).select('id', 'outcome', 'decided_on', 'authority', 'signed').first(),
    (): Promise<{ id: number; number: number; title: string; finding: string; status: string; target_date: string | null }[]> =>
      visibleTo(db('fiches').where('fiches.plan_id', planId).where('fiches.condition_of', latestSignature(db, planId).select('id')), db, communeId)
        .select('fiches.id', 'fiches.number', 'fiches.title', 'fiches.finding', 'fiches.status', 'fiches.target_date').orderBy('fiches.number'),
  );
  const owners = await ownersOf(db, rows.map((r) => Number(r.id)));
  return {
    decision: decision
      ? { id: Number(decision.id), outcome: (decision.outcome ?? (decision.signed ? 'homologuee' : 'refusee')) as Outcome, decidedOn: String(decision.decided_on), authority: String(decision.authority) }
      : null,
    fiches: rows.map((r) => ({
      id: Number(r.id), number: Number(r.number), title: String(r.title), finding: String(r.finding), status: r.status as Status,
      targetDate: r.target_date ?? null, owners: owners.get(Number(r.id)) ?? [],
    })),
  };
}

/** Where a fiche comes from: the fiche of the previous homologation it continues, the decision it is a condition of. */
export interface FicheOrigin {
  carriedFrom: { ficheId: number; number: number; planId: number; planTitle: string } | null;
  conditionOf: { signatureId: number; decidedOn: string; outcome: Outcome; meetingId: number | null; planId: number } | null;
}

export async function ficheOrigin(db: Knex, ficheId: number): Promise<FicheOrigin> {
  const row = await db('fiches as f')
    .leftJoin('fiches as origin', 'origin.id', 'f.carried_from_id')
    .leftJoin('plans as p', 'p.id', 'origin.plan_id')
    .leftJoin('signatures as s', 's.id', 'f.condition_of')
    .where('f.id', ficheId)
    .select('origin.id as origin_id', 'origin.number as origin_number', 'origin.plan_id as origin_plan_id', 'p.title as origin_plan_title',
      's.id as signature_id', 's.decided_on', 's.outcome', 's.signed', 's.meeting_id', 's.plan_id as signature_plan_id')
    .first();
  return {
    carriedFrom: row?.origin_id
      ? { ficheId: Number(row.origin_id), number: Number(row.origin_number), planId: Number(row.origin_plan_id), planTitle: String(row.origin_plan_title) }
      : null,
    conditionOf: row?.signature_id
      ? {
          signatureId: Number(row.signature_id), decidedOn: String(row.decided_on), outcome: (row.outcome ?? (row.signed ? 'homologuee' : 'refusee')) as Outcome,
          meetingId: row.meeting_id === null || row.meeting_id === undefined ? null : Number(row.meeting_id), planId: Number(row.signature_plan_id),
        }
      : null,
  };
}

/** What a homologation holds besides its perimeter and members: an empty draft holds nothing and may be deleted. */
export async function holdings(db: Knex, planId: number): Promise<{ fiches: number; meetings: number; decisions: number; renewals: number }> {
  const count = (q: Knex.QueryBuilder) => q.count({ n: '*' }).first().then((r) => Number((r as { n?: unknown } | undefined)?.n ?? 0));
  const [fiches, meetings, decisions, renewals] = await reads(db,
    () => count(db('fiches').where('plan_id', planId)),
    () => count(db('meetings').where('plan_id', planId)),
    () => count(db('signatures').where('plan_id', planId)),
    () => count(db('plans').where('previous_id', planId)),
  );
  return { fiches, meetings, decisions, renewals };
}

export const isEmptyDraft = (h: { fiches: number; meetings: number; decisions: number; renewals: number }) =>
  h.fiches === 0 && h.meetings === 0 && h.decisions === 0 && h.renewals === 0;

export type RenewResult =
  | { ok: true; id: number; carried: number }
  | { ok: false; reason: 'not_found' | 'archived' }
  | { ok: false; reason: 'already_renewed'; next: { id: number; title: string } | null };

/** What a renewal refused by the unique link to the old homologation becomes, before the renewal made meanwhile is read. */
const RENEWED_MEANWHILE = Symbol('renewed meanwhile');

async function insertChunked(trx: Knex, table: string, rows: Record<string, unknown>[]) {
  for (let i = 0; i < rows.length; i += 200) await trx(table).insert(rows.slice(i, i + 200));
}

/**
 * Prepares the renewal of a homologation, in one transaction: a new homologation (same organisation, reminder,
 * description, perimeter and members) that renews it, and a copy of each of its unfinished fiches with its steps,
 * owners, side effects, conclusion counts and scope, under the same number, linked to the fiche it continues.
 * Done fiches stay in the old one only; the old one stays as it is, in force until its end date. The old
 * homologation's row is taken first and the link is unique, so two requests never make two renewals.
 */
export async function renewHomologation(db: Knex, oldId: number, title: string, actor: Actor, at: Date): Promise<RenewResult> {
  const existing = async () => {
    const next = await db('plans').where('previous_id', oldId).select('id', 'title').first();
    return next ? { id: Number(next.id), title: String(next.title) } : null;
  };
  const result = await auditedWrite<RenewResult, typeof RENEWED_MEANWHILE>(db, { actor, at }, async (trx, audit) => {
    const old = await trx('plans').where('id', oldId).forUpdate().first();
    if (!old) return { ok: false, reason: 'not_found' };
    const next = await trx('plans').where('previous_id', oldId).select('id', 'title').first();
    if (next) return { ok: false, reason: 'already_renewed', next: { id: Number(next.id), title: String(next.title) } };
    if (old.archived_at) return { ok: false, reason: 'archived' };
    const iso = at.toISOString();
    const id = insertedId(await trx('plans').insert({
      title, organisation: old.organisation, reminder: old.reminder, is_demo: old.is_demo, description: old.description ?? '',
      previous_id: oldId, created_at: iso,
    }).returning('id'));

    const unfinished = () => trx('fiches').where('plan_id', oldId).whereNot('status', 'fait').select('id');
    const [instanceRows, memberRows, fiches, steps, effects, counts, owners, scopes] = await reads(trx,
      () => trx('plan_instances').where('plan_id', oldId).select('instance_id').orderBy('instance_id'),
      () => trx('plan_members').where('plan_id', oldId).select('user_id', 'role').orderBy('user_id'),
      () => trx('fiches').where('plan_id', oldId).whereNot('status', 'fait').select('*').orderBy('number'),
      () => trx('steps').whereIn('fiche_id', unfinished()).select('*').orderBy(['fiche_id', 'position', 'id']),
      () => trx('side_effects').whereIn('fiche_id', unfinished()).select('*').orderBy(['fiche_id', 'position']),
      () => trx('conclusion_counts').whereIn('fiche_id', unfinished()).select('*').orderBy(['fiche_id', 'position']),
      () => trx('fiche_owners').whereIn('fiche_id', unfinished()).select('*').orderBy('id'),
      () => trx('fiche_instances').whereIn('fiche_id', unfinished()).select('*'),
    );
    await insertChunked(trx, 'plan_instances', instanceRows.map((r) => ({ plan_id: id, instance_id: r.instance_id })));
    await insertChunked(trx, 'plan_members', memberRows.map((r) => ({ plan_id: id, user_id: r.user_id, role: r.role })));

    const newIdOf = new Map<number, number>();
    for (const f of fiches) {
      const carried = insertedId(await trx('fiches').insert({
        plan_id: id, number: f.number, title: f.title, finding: f.finding, target_date: f.target_date, status: f.status, conclusion: f.conclusion,
        cost_amount: f.cost_amount, cost_source: f.cost_source, scope_all: f.scope_all, version: 1, created_at: iso, updated_at: iso,
        carried_from_id: f.id, condition_of: null,
      }).returning('id'));
      newIdOf.set(Number(f.id), carried);
    }
    const to = (ficheId: unknown) => newIdOf.get(Number(ficheId))!;
    await insertChunked(trx, 'steps', steps.map((s) => ({ fiche_id: to(s.fiche_id), position: s.position, label: s.label, status: s.status, for_communes: s.for_communes })));
    await recordProgress(trx, [...newIdOf.values()], at);
    await insertChunked(trx, 'side_effects', effects.map((e) => ({ fiche_id: to(e.fiche_id), position: e.position, level: e.level, description: e.description })));
    await insertChunked(trx, 'conclusion_counts', counts.map((c) => ({ fiche_id: to(c.fiche_id), position: c.position, count: c.count, total: c.total, label: c.label })));
    await insertChunked(trx, 'fiche_owners', owners.map((o) => ({ fiche_id: to(o.fiche_id), team_id: o.team_id, service_id: o.service_id })));
    await insertChunked(trx, 'fiche_instances', scopes.map((s) => ({ fiche_id: to(s.fiche_id), instance_id: s.instance_id })));

    // each carried fiche's first snapshot in the audit trail (what the next agenda compares with), its steps' new ids
    const newSteps = fiches.length
      ? await trx('steps').whereIn('fiche_id', trx('fiches').where('plan_id', id).select('id')).select('id', 'fiche_id', 'position', 'label', 'status').orderBy(['fiche_id', 'position'])
      : [];
    for (const f of fiches) {
      const ficheId = to(f.id);
      await audit({
        action: 'create', entityType: 'fiche', entityId: ficheId,
        summary: `Fiche n°${f.number} : ${f.title} (reprise de l'homologation « ${old.title} »)`,
        after: {
          number: f.number, title: f.title, status: f.status, targetDate: f.target_date ?? null, carriedFromId: Number(f.id),
          steps: newSteps.filter((s) => Number(s.fiche_id) === ficheId).map((s) => ({ id: Number(s.id), position: s.position, label: s.label, status: s.status })),
          sideEffects: effects.filter((e) => Number(e.fiche_id) === Number(f.id)).map((e) => ({ level: e.level, description: e.description })),
        },
      });
    }
    await audit({
      action: 'create', entityType: 'plan', entityId: id, summary: `Renouvellement de « ${old.title} » : « ${title} »`,
      after: {
        title, previousId: oldId, instances: instanceRows.length, members: memberRows.length,
        carriedFiches: fiches.map((f) => ({ number: Number(f.number), from: Number(f.id), to: to(f.id) })),
      },
    });
    return { ok: true, id, carried: fiches.length };
  }, { unique: RENEWED_MEANWHILE });
  // another process renewed it between our read and our insert: the unique link refused the second renewal
  return result === RENEWED_MEANWHILE ? { ok: false, reason: 'already_renewed', next: await existing() } : result;
}

export type ArchiveResult = 'ok' | 'already' | 'not_found';

/** Archives a homologation by hand: read-only from then on, its expiry reminders closed. */
export async function archiveHomologation(db: Knex, id: number, actor: Actor, at: Date): Promise<ArchiveResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const iso = at.toISOString();
    const n = await trx('plans').where('id', id).whereNull('archived_at').update({ archived_at: iso, archived_reason: 'manuel' });
    if (n === 0) return (await trx('plans').where('id', id).select('id').first()) ? 'already' : 'not_found';
    await trx('expiry_reminders').where('plan_id', id).whereNull('closed_at').update({ closed_at: iso });
    const plan = await trx('plans').where('id', id).select('title').first();
    await audit({
      action: 'update', entityType: 'plan', entityId: id, summary: `Homologation archivée : « ${plan?.title ?? ''} »`,
      before: { archivedAt: null }, after: { archivedAt: iso, archivedReason: 'manuel' },
    });
    return 'ok';
  });
}

export type DeleteResult = 'ok' | 'not_empty' | 'not_found';

/**
 * Deletes a homologation only while it is an empty draft: no fiche, no meeting, no decision, no renewal. Its row is
 * taken first, so a fiche or a meeting being added meanwhile is seen (and the deletion refused).
 */
export async function deleteEmptyDraft(db: Knex, id: number, actor: Actor, at: Date): Promise<DeleteResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const plan = await trx('plans').where('id', id).forUpdate().first();
    if (!plan) return 'not_found';
    if (!isEmptyDraft(await holdings(trx, id))) return 'not_empty';
    await trx('plans').where('id', id).delete();
    await audit({
      action: 'delete', entityType: 'plan', entityId: id, summary: `Homologation supprimée (brouillon vide) : « ${plan.title} »`,
      before: { title: plan.title, organisation: plan.organisation, description: plan.description ?? '', previousId: plan.previous_id ?? null },
    });
    return 'ok';
  });
}
