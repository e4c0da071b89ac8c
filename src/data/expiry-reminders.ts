import type { Knex } from 'knex';
import { reminderDate } from '../domain/homologation';
import type { AuditActor } from './audit';
import { auditedWrite, insertedId } from './write';

/**
 * Why a reminder stopped: its threshold fell before the decision was even taken, a more recent threshold took
 * over, the renewal was decided, the homologation archived, or a newer decision replaced this one.
 */
export type ClosedReason = 'avant_decision' | 'remplace' | 'renouvelee' | 'archivee' | 'decision';

export const CLOSED_REASON_TEXT: Record<ClosedReason, string> = {
  avant_decision: 'ce seuil tombait avant la décision',
  remplace: 'remplacé par un rappel plus récent',
  renouvelee: 'le renouvellement a été décidé',
  archivee: "l'homologation est archivée",
  decision: 'une nouvelle décision a été prise',
};

/** "6 mois avant la fin de validité", "le jour de la fin de validité". */
export function thresholdText(monthsBefore: number): string {
  return monthsBefore === 0 ? 'le jour de la fin de validité' : `${monthsBefore} mois avant la fin de validité`;
}

export interface ExpiryReminder {
  id: number;
  planId: number;
  planTitle: string;
  signatureId: number;
  /** Months before the end date (0 = the day itself). */
  monthsBefore: number;
  endsOn: string;
  decidedOn: string;
  authority: string;
  createdAt: string;
  acknowledgedAt: string | null;
  acknowledgedByName: string | null;
  closedAt: string | null;
  closedReason: ClosedReason | null;
  /** Recorded closed, without e-mail: an earlier threshold due at the same time as a more recent one, or before the decision. */
  skipped: boolean;
  /** How many e-mails were decided for it (0 for a threshold recorded without e-mail because a more recent one was due). */
  messages: number;
}

/** A non-refused decision (the outcome is set on every decision since migration 006). */
const granted = (q: Knex.QueryBuilder, table: string) => q.whereNotNull(`${table}.outcome`).whereNot(`${table}.outcome`, 'refusee');

/** Signatures of the same homologation recorded after the one named by `signatureColumn` (by date, then id). */
function laterDecision(db: Knex, signatureColumn: string) {
  return db('signatures as s1').join('signatures as later', 'later.plan_id', 's1.plan_id').select(db.raw('1'))
    .whereRaw(`s1.id = ${signatureColumn}`)
    .where((w) => w.whereRaw('later.decided_on > s1.decided_on').orWhere((x) => x.whereRaw('later.decided_on = s1.decided_on').whereRaw('later.id > s1.id')));
}

/** Homologations whose renewal has a non-refused decision. */
function renewedPlanIds(db: Knex) {
  return granted(db('plans as renewal').join('signatures as rs', 'rs.plan_id', 'renewal.id').whereNotNull('renewal.previous_id'), 'rs')
    .select('renewal.previous_id');
}

/** Reminders, newest first; `open` keeps those neither acknowledged nor closed. A fixed number of statements. */
export async function listReminders(db: Knex, filter: { open?: boolean; planId?: number; id?: number; limit?: number } = {}): Promise<ExpiryReminder[]> {
  const q = db('expiry_reminders as r').join('plans', 'plans.id', 'r.plan_id').join('signatures', 'signatures.id', 'r.signature_id')
    .select(
      'r.*', 'plans.title as plan_title', 'plans.archived_at as plan_archived_at', 'signatures.decided_on', 'signatures.authority',
      db.raw('(select count(*) from outbox where outbox.expiry_reminder_id = r.id) as messages'),
      db.raw('(select min(n.months_before) from expiry_reminders n where n.signature_id = r.signature_id) as newest_months'),
    )
    .select(db.raw('case when r.plan_id in ? then 1 else 0 end as renewed', [renewedPlanIds(db)]))
    .orderBy([{ column: 'r.created_at', order: 'desc' }, { column: 'r.months_before', order: 'asc' }, { column: 'r.id', order: 'desc' }])
    .limit(filter.limit ?? 200);
  if (filter.open) q.whereNull('r.acknowledged_at').whereNull('r.closed_at');
  if (filter.planId !== undefined) q.where('r.plan_id', filter.planId);
  if (filter.id !== undefined) q.where('r.id', filter.id);
  const rows = await q;
  return rows.map((r) => {
    const closedAt: string | null = r.closed_at ?? null;
    let closedReason: ClosedReason | null = null;
    if (closedAt) {
      if (reminderDate(String(r.ends_on), Number(r.months_before)) <= String(r.decided_on)) closedReason = 'avant_decision';
      else if (Number(r.newest_months) < Number(r.months_before)) closedReason = 'remplace';
      else if (Number(r.renewed)) closedReason = 'renouvelee';
      else if (r.plan_archived_at) closedReason = 'archivee';
      else closedReason = 'decision';
    }
    return {
      id: Number(r.id), planId: Number(r.plan_id), planTitle: String(r.plan_title), signatureId: Number(r.signature_id),
      monthsBefore: Number(r.months_before), endsOn: String(r.ends_on), decidedOn: String(r.decided_on), authority: String(r.authority ?? ''),
      createdAt: String(r.created_at), acknowledgedAt: r.acknowledged_at ?? null, acknowledgedByName: r.acknowledged_by_name ?? null,
      closedAt, closedReason, skipped: closedAt !== null && closedAt === String(r.created_at), messages: Number(r.messages),
    };
  });
}

export async function getReminder(db: Knex, id: number): Promise<ExpiryReminder | undefined> {
  return (await listReminders(db, { id, limit: 1 }))[0];
}

/** The reminders of a homologation still waiting for an acknowledgement (for its page). */
export async function openReminders(db: Knex, planId: number): Promise<ExpiryReminder[]> {
  return listReminders(db, { open: true, planId });
}

export type AcknowledgeResult = 'acknowledged' | 'already' | 'closed';

/** Records who acknowledged the reminder, once (a guarded update), with its audit entry. */
export async function acknowledgeReminder(db: Knex, id: number, actor: AuditActor & { id: number }, at: Date): Promise<AcknowledgeResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const n = await trx('expiry_reminders').where('id', id).whereNull('acknowledged_at').whereNull('closed_at')
      .update({ acknowledged_at: at.toISOString(), acknowledged_by: actor.id, acknowledged_by_name: actor.name });
    if (n === 1) {
      const row = await trx('expiry_reminders').where('id', id).select('plan_id', 'months_before', 'ends_on').first();
      await audit({
        action: 'update', entityType: 'expiry_reminder', entityId: id,
        summary: `Rappel d'échéance acquitté (homologation n°${row.plan_id}, ${row.months_before} mois avant le ${row.ends_on})`,
        after: { acknowledgedAt: at.toISOString() },
      });
      return 'acknowledged';
    }
    const row = await trx('expiry_reminders').where('id', id).select('acknowledged_at').first();
    return row?.acknowledged_at ? 'already' : 'closed';
  });
}

/** Closes the open reminders of a homologation (its renewal was decided, or it was archived): nothing more is sent. */
export async function closeReminders(db: Knex, planId: number, at: Date): Promise<number> {
  return db('expiry_reminders').where('plan_id', planId).whereNull('closed_at').whereNull('acknowledged_at').update({ closed_at: at.toISOString() });
}

/**
 * Closes every open reminder that no longer applies: its homologation archived, its renewal decided, its decision no
 * longer the latest or refused. A guarded update: running it twice, or on two servers, closes each once.
 */
export async function closeStaleReminders(db: Knex, at: Date): Promise<number> {
  return db('expiry_reminders').whereNull('closed_at').whereNull('acknowledged_at')
    .where((w) => {
      w.whereIn('plan_id', db('plans').whereNotNull('archived_at').select('id'))
        .orWhereIn('plan_id', renewedPlanIds(db))
        .orWhereIn('signature_id', db('signatures').where('outcome', 'refusee').select('id'))
        .orWhereExists(laterDecision(db, 'expiry_reminders.signature_id'));
    })
    .update({ closed_at: at.toISOString() });
}

/** A decision that may need reminders: the latest of a homologation not archived, not refused, with an end date, whose renewal is not decided. */
export interface DecisionToRemind {
  planId: number;
  planTitle: string;
  organisation: string;
  signatureId: number;
  decidedOn: string;
  endsOn: string;
  authority: string;
  authorityEmail: string;
  /** The thresholds already recorded for it. */
  recorded: number[];
}

/**
 * The decisions whose reminders are to be looked at (those `dueBy` keeps, or just one), with the thresholds already
 * recorded: two statements whatever their number.
 */
export async function decisionsToRemind(db: Knex, dueBy: (endsOn: string) => boolean, signatureId?: number): Promise<DecisionToRemind[]> {
  const q = granted(db('signatures').join('plans', 'plans.id', 'signatures.plan_id'), 'signatures')
    .whereNull('plans.archived_at').whereNotNull('signatures.ends_on')
    .whereNotExists(laterDecision(db, 'signatures.id'))
    .whereNotIn('plans.id', renewedPlanIds(db))
    .select('signatures.id', 'signatures.plan_id', 'signatures.decided_on', 'signatures.ends_on', 'signatures.authority', 'signatures.authority_email',
      'plans.title', 'plans.organisation')
    .orderBy('signatures.id');
  if (signatureId !== undefined) q.where('signatures.id', signatureId);
  type Row = { id: number; plan_id: number; decided_on: string; ends_on: string; authority: string | null; authority_email: string | null; title: string; organisation: string | null };
  const due = ((await q) as Row[]).filter((r) => dueBy(String(r.ends_on)));
  if (!due.length) return [];
  const recorded = await db('expiry_reminders').whereIn('signature_id', due.map((r) => r.id)).select('signature_id', 'months_before');
  return due.map((r) => ({
    planId: Number(r.plan_id), planTitle: String(r.title), organisation: String(r.organisation ?? ''), signatureId: Number(r.id),
    decidedOn: String(r.decided_on), endsOn: String(r.ends_on), authority: String(r.authority ?? ''), authorityEmail: String(r.authority_email ?? '').trim(),
    recorded: recorded.filter((x) => Number(x.signature_id) === Number(r.id)).map((x) => Number(x.months_before)),
  }));
}

/**
 * Records one threshold of a decision, once: the unique (decision, threshold) pair makes a second insert, from this
 * server or another, insert nothing (null). A threshold recorded `closed` is kept without being sent.
 */
export async function createReminder(
  trx: Knex, r: { planId: number; signatureId: number; monthsBefore: number; endsOn: string }, at: Date, closed: boolean,
): Promise<number | null> {
  const inserted = await trx('expiry_reminders').insert({
    plan_id: r.planId, signature_id: r.signatureId, months_before: r.monthsBefore, ends_on: r.endsOn, created_at: at.toISOString(),
    closed_at: closed ? at.toISOString() : null,
  }).onConflict(['signature_id', 'months_before']).ignore().returning('id');
  return inserted.length ? insertedId(inserted) : null;
}

/** Closes the decision's open reminders of earlier thresholds: the one just sent takes over. */
export async function closeEarlierReminders(trx: Knex, signatureId: number, monthsBefore: number, at: Date): Promise<number> {
  return trx('expiry_reminders').where('signature_id', signatureId).where('months_before', '>', monthsBefore)
    .whereNull('closed_at').whereNull('acknowledged_at').update({ closed_at: at.toISOString() });
}

export interface Recipient { userId: number | null; email: string; name: string }

/**
 * Who is told of a homologation's coming end: the active members of its project team (plan_members 'editor'),
 * or, if it has none, the active users whose global role is editor; never a commune's staff.
 */
export async function teamRecipients(db: Knex, planId: number): Promise<Recipient[]> {
  const members = await db('plan_members').join('users', 'users.id', 'plan_members.user_id')
    .where('plan_members.plan_id', planId).where('plan_members.role', 'editor')
    .where('users.active', true).whereNotIn('users.role', ['commune', 'commune_admin'])
    .select('users.id', 'users.email', 'users.name').orderBy('users.id');
  const rows = members.length ? members
    : await db('users').where('role', 'editor').where('active', true).select('id', 'email', 'name').orderBy('id');
  return rows.map((u) => ({ userId: Number(u.id), email: String(u.email), name: String(u.name) }));
}
