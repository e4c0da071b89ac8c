import type { Knex } from 'knex';
import type { AuditActor } from './audit';
import type { Status } from '../domain/statuses';
import { STATUS_LABELS } from '../domain/statuses';
import { auditedWrite, insertedId } from './write';
import { recordProgress } from './fiches';

/** A fiche owned by one of the user's teams, open. */
export interface TeamFiche { id: number; number: number; title: string; status: Status; targetDate: string | null; planId: number; planTitle: string }

/** The open fiches of the teams the user belongs to, in homologations that are not archived: one query. */
export async function fichesOfMyTeams(db: Knex, userId: number): Promise<TeamFiche[]> {
  const rows = await db('fiches').join('plans', 'plans.id', 'fiches.plan_id').whereNull('plans.archived_at').whereNot('fiches.status', 'fait')
    .whereIn('fiches.id', db('fiche_owners').join('team_members', 'team_members.team_id', 'fiche_owners.team_id').where('team_members.user_id', userId).select('fiche_owners.fiche_id'))
    .select('fiches.id', 'fiches.number', 'fiches.title', 'fiches.status', 'fiches.target_date', 'plans.id as plan_id', 'plans.title as plan_title');
  return rows.map((r) => ({
    id: Number(r.id), number: Number(r.number), title: String(r.title), status: r.status as Status, targetDate: r.target_date ?? null,
    planId: Number(r.plan_id), planTitle: String(r.plan_title),
  }));
}

export type StepStatusResult =
  | { ok: true; ficheId: number; planId: number }
  /** the step is not (or no longer) this person's, or does not exist */
  | { ok: false; reason: 'not_assigned' }
  /** its homologation is archived: read only */
  | { ok: false; reason: 'read_only' }
  /** the homologation requires evidence or a justification for a done step */
  | { ok: false; reason: 'justification_required' };

/**
 * The one-click change of a step by its responsible person (an account, or a named person through their link): its
 * status, and a progress note on its fiche saying so (with the person's note). Guarded: the update applies only while
 * the step is still assigned to that person, in the same statement; the fiche's version moves (an edit form opened
 * before is then refused, never overwriting this); the note and the audit row are in the same transaction.
 */
export async function setAssignedStepStatus(
  db: Knex, stepId: number, who: { userId: number } | { personId: number }, change: { status: Status; note: string; requireJustification: boolean },
  actor: AuditActor & { id: number | null }, at: Date,
): Promise<StepStatusResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<StepStatusResult> => {
    const step = await trx('steps').join('fiches', 'fiches.id', 'steps.fiche_id').join('plans', 'plans.id', 'fiches.plan_id').where('steps.id', stepId)
      .select('steps.*', 'fiches.number as fiche_number', 'fiches.plan_id', 'plans.archived_at').first();
    const mine = step && ('userId' in who ? Number(step.assignee_user_id) === who.userId : Number(step.assignee_person_id) === who.personId);
    if (!step || !mine) return { ok: false, reason: 'not_assigned' };
    if (step.archived_at) return { ok: false, reason: 'read_only' };
    if (change.status === 'fait' && step.status !== 'fait' && change.note.trim() === '') {
      // a homologation may require evidence for a done step: a document attached to it, or the note as justification
      const plan = await trx('plans').where({ id: step.plan_id }).first('evidence_required_for_done');
      const evidence = await trx('documents').where({ owner_type: 'step', owner_id: stepId }).whereNull('removed_at').first('id');
      if ((change.requireJustification || Boolean(plan?.evidence_required_for_done)) && !evidence) return { ok: false, reason: 'justification_required' };
    }
    const guard = trx('steps').where({ id: stepId });
    if ('userId' in who) guard.where('assignee_user_id', who.userId); else guard.where('assignee_person_id', who.personId);
    // the person's update acknowledges a late step: no reminder follows
    if ((await guard.update({ status: change.status, late_acknowledged_at: at.toISOString() })) !== 1) return { ok: false, reason: 'not_assigned' };
    await trx('fiches').where({ id: step.fiche_id }).update({ version: trx.raw('?? + 1', ['version']), updated_at: at.toISOString() });
    await recordProgress(trx, [Number(step.fiche_id)], at);
    const statusChanged = step.status !== change.status;
    const body = [
      statusChanged ? `Action « ${step.label} » : ${STATUS_LABELS[step.status as Status]} → ${STATUS_LABELS[change.status]}.` : `Action « ${step.label} ».`,
      change.note.trim(),
      // a person without an account has no author row: the note says who wrote it
      actor.id === null ? `(${actor.name})` : '',
    ].filter(Boolean).join('\n');
    const noteId = insertedId(await trx('progress_notes').insert({
      fiche_id: step.fiche_id, author_id: actor.id, noted_on: at.toISOString().slice(0, 10), created_at: at.toISOString(), body,
      status_before: null, status_after: null,
    }).returning('id'));
    await audit({
      action: 'update', entityType: 'step', entityId: stepId, summary: `Action « ${step.label} » de la fiche n°${step.fiche_number} : ${STATUS_LABELS[change.status]}`,
      before: { status: step.status }, after: { status: change.status, noteId, ficheId: Number(step.fiche_id) },
    });
    return { ok: true, ficheId: Number(step.fiche_id), planId: Number(step.plan_id) };
  });
}

export async function setActionsDigest(db: Knex, userId: number, choice: 'none' | 'daily' | 'weekly'): Promise<void> {
  await db('users').where({ id: userId }).update({ actions_digest: choice });
}

export async function actionsDigestOf(db: Knex, userId: number): Promise<'none' | 'daily' | 'weekly'> {
  const r = await db('users').where({ id: userId }).first('actions_digest');
  return (r?.actions_digest ?? 'none') as 'none' | 'daily' | 'weekly';
}

/** The calendar feed's token, kept as its SHA-256 only; null revokes it. */
export async function setIcsTokenHash(db: Knex, userId: number, hash: string | null): Promise<void> {
  await db('users').where({ id: userId }).update({ ics_token_hash: hash });
}

export async function hasIcsToken(db: Knex, userId: number): Promise<boolean> {
  return Boolean((await db('users').where({ id: userId }).first('ics_token_hash'))?.ics_token_hash);
}

/** The active account whose feed this token opens, if any. */
export async function userByIcsTokenHash(db: Knex, hash: string): Promise<{ id: number; name: string } | undefined> {
  const r = await db('users').where({ ics_token_hash: hash, active: true }).whereNull('anonymized_at').first('id', 'name');
  return r ? { id: Number(r.id), name: String(r.name) } : undefined;
}
