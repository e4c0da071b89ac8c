import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Status } from '../domain/statuses';

/** A step as its notices tell it, with who is responsible and where to reach them. */
export interface NoticeStep {
  id: number;
  label: string;
  status: Status;
  due: string | null;
  ficheId: number;
  ficheNumber: number;
  ficheTitle: string;
  planId: number;
  planTitle: string;
  organisation: string;
  /** "u12" or "p3" */
  assignee: string;
  toAddress: string;
  toName: string;
  personId: number | null;
}

/** Open steps with an active responsible person, in homologations that are not archived, due dates computed. */
function openAssignedSteps(db: Knex) {
  return db('steps').join('fiches', 'fiches.id', 'steps.fiche_id').join('plans', 'plans.id', 'fiches.plan_id')
    .leftJoin('users', 'users.id', 'steps.assignee_user_id').leftJoin('people', 'people.id', 'steps.assignee_person_id')
    .whereNull('plans.archived_at').whereNot('steps.status', 'fait')
    .where((q) => q.where((u) => u.whereNotNull('steps.assignee_user_id').where('users.active', true).whereNull('users.anonymized_at'))
      .orWhereNotNull('steps.assignee_person_id'))
    .select(
      'steps.id', 'steps.label', 'steps.status', 'steps.assignee_user_id', 'steps.assignee_person_id', 'steps.assignment_notified',
      'steps.soon_notified_for', 'steps.late_notified_for', db.raw('coalesce(steps.target_date, fiches.target_date) as due'),
      'fiches.id as fiche_id', 'fiches.number as fiche_number', 'fiches.title as fiche_title', 'plans.id as plan_id', 'plans.title as plan_title',
      'plans.organisation', 'users.email as user_email', 'users.name as user_name', 'people.email as person_email', 'people.name as person_name',
    );
}

const noticeStep = (r: Record<string, unknown>): NoticeStep => {
  const person = r.assignee_person_id !== null && r.assignee_person_id !== undefined;
  return {
    id: Number(r.id), label: String(r.label), status: r.status as Status, due: (r.due as string | null) ?? null,
    ficheId: Number(r.fiche_id), ficheNumber: Number(r.fiche_number), ficheTitle: String(r.fiche_title), planId: Number(r.plan_id),
    planTitle: String(r.plan_title), organisation: String(r.organisation ?? ''),
    assignee: person ? `p${r.assignee_person_id}` : `u${r.assignee_user_id}`,
    toAddress: String(person ? r.person_email : r.user_email), toName: String(person ? r.person_name : r.user_name),
    personId: person ? Number(r.assignee_person_id) : null,
  };
};

/** Steps whose current responsible person has not been told of the assignment. */
export async function unannouncedAssignments(db: Knex): Promise<NoticeStep[]> {
  const rows = await openAssignedSteps(db).where((q) => q.whereNull('steps.assignment_notified')
    .orWhereRaw("steps.assignment_notified <> (case when steps.assignee_person_id is not null then 'p' || steps.assignee_person_id else 'u' || steps.assignee_user_id end)"));
  return rows.map(noticeStep);
}

/** Steps due within `days` days (today included) whose notice for that date was not sent. */
export async function stepsDueSoon(db: Knex, today: string, until: string): Promise<NoticeStep[]> {
  const due = db.raw('coalesce(steps.target_date, fiches.target_date)');
  const rows = await openAssignedSteps(db).where(due, '>=', today).where(due, '<=', until)
    .where((q) => q.whereNull('steps.soon_notified_for').orWhere('steps.soon_notified_for', '<>', due));
  return rows.map(noticeStep);
}

/** Steps past their due date whose late notice for that date was not sent. */
export async function stepsNewlyLate(db: Knex, today: string): Promise<NoticeStep[]> {
  const due = db.raw('coalesce(steps.target_date, fiches.target_date)');
  const rows = await openAssignedSteps(db).where(due, '<', today)
    .where((q) => q.whereNull('steps.late_notified_for').orWhere('steps.late_notified_for', '<>', due));
  return rows.map(noticeStep);
}

/** Late steps already told, not acknowledged, whose last notice is older than `before`: due for a reminder. */
export async function lateStepsToRemind(db: Knex, today: string, before: string): Promise<(NoticeStep & { reminders: number })[]> {
  const due = db.raw('coalesce(steps.target_date, fiches.target_date)');
  const rows = await openAssignedSteps(db).where(due, '<', today).whereRaw('steps.late_notified_for = coalesce(steps.target_date, fiches.target_date)')
    .whereNull('steps.late_acknowledged_at').where('steps.late_last_sent_at', '<=', before).select('steps.late_reminders');
  return rows.map((r) => ({ ...noticeStep(r), reminders: Number(r.late_reminders) }));
}

/** Marks a reminder round as decided, once: only if it is still the round that was read. */
export async function claimLateReminder(trx: Knex, stepId: number, round: number, at: Date): Promise<boolean> {
  return (await trx('steps').where({ id: stepId, late_reminders: round }).whereNull('late_acknowledged_at')
    .update({ late_reminders: round + 1, late_last_sent_at: at.toISOString() })) === 1;
}

/** The responsible person acknowledges a late step: no more reminders for this date. */
export async function acknowledgeLateStep(db: Knex, stepId: number, userId: number, at: Date): Promise<boolean> {
  return (await db('steps').where({ id: stepId, assignee_user_id: userId }).whereNull('late_acknowledged_at')
    .update({ late_acknowledged_at: at.toISOString() })) === 1;
}

/**
 * Marks a notice as decided, once: a guarded update that only one of several schedulers wins (the others find the
 * column already set). `column` is the step's marker, `value` what it must become.
 */
export async function claimNotice(trx: Knex, stepId: number, column: 'assignment_notified' | 'soon_notified_for' | 'late_notified_for', value: string, at?: Date): Promise<boolean> {
  // a late notice for a new date starts its reminders over
  const late = column === 'late_notified_for' ? { late_acknowledged_at: null, late_reminders: 0, late_last_sent_at: (at ?? new Date()).toISOString() } : {};
  const n = await trx('steps').where({ id: stepId }).where((q) => q.whereNull(column).orWhere(column, '<>', value)).update({ [column]: value, ...late });
  return n === 1;
}

/** A new link for a named person to mark one step done; the token is returned once, only its hash is kept. */
export async function createStepLink(trx: Knex, stepId: number, personId: number, at: Date, days = 30): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await trx('step_links').insert({
    token_hash: createHash('sha256').update(token).digest('hex'), step_id: stepId, person_id: personId,
    created_at: at.toISOString(), expires_at: new Date(at.getTime() + days * 86_400_000).toISOString(),
  });
  return token;
}

export interface StepLink { stepId: number; personId: number; personName: string; label: string; status: Status; ficheNumber: number; ficheTitle: string; planTitle: string; due: string | null }

/** The step a link opens: only while it has not expired and the step is still that person's. */
export async function stepOfLink(db: Knex, token: string, at: Date): Promise<StepLink | undefined> {
  const r = await db('step_links').join('steps', 'steps.id', 'step_links.step_id').join('fiches', 'fiches.id', 'steps.fiche_id')
    .join('plans', 'plans.id', 'fiches.plan_id').join('people', 'people.id', 'step_links.person_id')
    .where('step_links.token_hash', createHash('sha256').update(token).digest('hex')).where('step_links.expires_at', '>', at.toISOString())
    .whereRaw('steps.assignee_person_id = step_links.person_id').whereNull('plans.archived_at')
    .select('steps.id', 'steps.label', 'steps.status', 'step_links.person_id', 'people.name', 'fiches.number', 'fiches.title', 'plans.title as plan_title',
      db.raw('coalesce(steps.target_date, fiches.target_date) as due'))
    .first();
  if (!r) return undefined;
  return {
    stepId: Number(r.id), personId: Number(r.person_id), personName: String(r.name), label: String(r.label), status: r.status as Status,
    ficheNumber: Number(r.number), ficheTitle: String(r.title), planTitle: String(r.plan_title), due: r.due ?? null,
  };
}

/** Accounts whose digest of their own actions is due: daily once a day, weekly once in seven days. */
export async function digestsDue(db: Knex, now: Date): Promise<{ id: number; name: string; email: string; choice: 'daily' | 'weekly'; sentAt: string | null }[]> {
  const rows = await db('users').whereIn('actions_digest', ['daily', 'weekly']).where({ active: true }).whereNull('anonymized_at')
    .select('id', 'name', 'email', 'actions_digest', 'actions_digest_sent_at');
  return rows.map((r) => ({ id: Number(r.id), name: String(r.name), email: String(r.email), choice: r.actions_digest, sentAt: r.actions_digest_sent_at ?? null }))
    .filter((u) => {
      if (!u.sentAt) return true;
      const hours = (now.getTime() - new Date(u.sentAt).getTime()) / 3_600_000;
      return u.choice === 'daily' ? hours >= 23 : hours >= 7 * 24 - 1;
    });
}

/** Marks a digest as sent, once: only if nobody sent it since `sentAt` was read. */
export async function claimDigest(trx: Knex, userId: number, sentAt: string | null, at: Date): Promise<boolean> {
  const q = trx('users').where({ id: userId });
  if (sentAt === null) q.whereNull('actions_digest_sent_at'); else q.where('actions_digest_sent_at', sentAt);
  return (await q.update({ actions_digest_sent_at: at.toISOString() })) === 1;
}
