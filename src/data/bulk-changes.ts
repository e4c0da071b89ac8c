import type { Knex } from 'knex';
import {
  type BulkChange, type BulkObject, type BulkPlan, type BulkSelection, type BulkTarget, entrySummary, fichesBumped, operationSummary, planBulk,
} from '../domain/bulk';
import type { Owner } from '../domain/fiche';
import type { Actor } from '../domain/roles';
import type { Status } from '../domain/statuses';
import { bulkWrite } from './bulk';
import { ownersOf, recordProgress, stepsWithAssignees } from './fiches';
import { chunks, Refused } from './write';


const assigneeOf = (r: { assignee_user_id?: unknown; assignee_person_id?: unknown }): string | null =>
  r.assignee_user_id !== null && r.assignee_user_id !== undefined ? `u${Number(r.assignee_user_id)}`
    : r.assignee_person_id !== null && r.assignee_person_id !== undefined ? `p${Number(r.assignee_person_id)}` : null;

/** A fiche of the selection page. */
export interface BulkFicheRow {
  id: number;
  number: number;
  title: string;
  status: Status;
  targetDate: string | null;
  version: number;
  owners: Owner[];
}

/** A step of the selection page. */
export interface BulkStepRow {
  id: number;
  ficheId: number;
  position: number;
  label: string;
  status: Status;
  targetDate: string | null;
  assignee: string | null;
  assigneeName: string | null;
}

/** The homologation's fiches and steps as the selection page lists them, in number order: three queries whatever the size. */
export async function bulkCandidates(db: Knex, planId: number): Promise<{ fiches: BulkFicheRow[]; steps: BulkStepRow[] }> {
  const ids = () => db('fiches').where('plan_id', planId).select('id');
  const [rows, ownerRows, steps] = await Promise.all([
    db('fiches').where('plan_id', planId).select('id', 'number', 'title', 'status', 'target_date', 'version').orderBy('number'),
    db('fiche_owners').join('teams', 'teams.id', 'fiche_owners.team_id').leftJoin('services', 'services.id', 'fiche_owners.service_id')
      .whereIn('fiche_owners.fiche_id', ids())
      .select('fiche_owners.fiche_id', 'fiche_owners.team_id', 'teams.name as team_name', 'fiche_owners.service_id', 'services.name as service_name')
      .orderBy('fiche_owners.id'),
    stepsWithAssignees(db).whereIn('steps.fiche_id', ids()).orderBy(['steps.fiche_id', 'steps.position']),
  ]);
  const owners = new Map<number, Owner[]>();
  for (const r of ownerRows) {
    const list = owners.get(Number(r.fiche_id)) ?? [];
    list.push({ teamId: Number(r.team_id), teamName: String(r.team_name), serviceId: r.service_id === null ? null : Number(r.service_id), serviceName: r.service_name ?? null });
    owners.set(Number(r.fiche_id), list);
  }
  return {
    fiches: rows.map((r) => ({
      id: Number(r.id), number: Number(r.number), title: String(r.title), status: r.status as Status, targetDate: r.target_date ?? null,
      version: Number(r.version), owners: owners.get(Number(r.id)) ?? [],
    })),
    steps: steps.map((s) => ({
      id: Number(s.id), ficheId: Number(s.fiche_id), position: Number(s.position), label: String(s.label), status: s.status as Status,
      targetDate: s.target_date ?? null, assignee: assigneeOf(s), assigneeName: s.assignee_user_name ?? s.assignee_person_name ?? null,
    })),
  };
}

/**
 * The selected fiches (or steps) of the homologation as they are now, with their fiche's version; ids of another
 * homologation or unknown are simply absent. Two or three queries per 400 ids.
 */
export async function bulkObjects(db: Knex, planId: number, target: BulkTarget, ids: readonly number[]): Promise<BulkObject[]> {
  const out: BulkObject[] = [];
  for (const part of chunks([...new Set(ids)])) {
    if (target === 'fiches') {
      const rows = await db('fiches').where('plan_id', planId).whereIn('id', part).select('id', 'number', 'title', 'status', 'target_date', 'version');
      const owners = await ownersOf(db, rows.map((r) => Number(r.id)));
      for (const r of rows) {
        out.push({
          id: Number(r.id), ficheId: Number(r.id), ficheNumber: Number(r.number), ficheTitle: String(r.title), ficheTargetDate: r.target_date ?? null,
          version: Number(r.version), step: null, status: r.status as Status, targetDate: r.target_date ?? null,
          owners: owners.get(Number(r.id)) ?? [], assignee: null, assigneeName: null,
        });
      }
    } else {
      const rows = await stepsWithAssignees(db).join('fiches', 'fiches.id', 'steps.fiche_id').where('fiches.plan_id', planId).whereIn('steps.id', part)
        .select('fiches.number as fiche_number', 'fiches.title as fiche_title', 'fiches.target_date as fiche_target_date', 'fiches.version as fiche_version');
      for (const r of rows) {
        out.push({
          id: Number(r.id), ficheId: Number(r.fiche_id), ficheNumber: Number(r.fiche_number), ficheTitle: String(r.fiche_title),
          ficheTargetDate: r.fiche_target_date ?? null, version: Number(r.fiche_version),
          step: { position: Number(r.position), label: String(r.label) }, status: r.status as Status, targetDate: r.target_date ?? null,
          owners: [], assignee: assigneeOf(r), assigneeName: r.assignee_user_name ?? r.assignee_person_name ?? null,
        });
      }
    }
  }
  return out;
}

/** The steps among these that have no evidence attached (a homologation may require one for a done step). */
export async function stepsWithoutEvidence(db: Knex, stepIds: readonly number[]): Promise<number[]> {
  const proven = new Set<number>();
  for (const part of chunks(stepIds)) {
    const rows = await db('documents').where('owner_type', 'step').whereIn('owner_id', part).whereNull('removed_at').distinct('owner_id');
    for (const r of rows) proven.add(Number(r.owner_id));
  }
  return stepIds.filter((id) => !proven.has(id));
}

export type BulkApplyResult =
  | { ok: true; count: number; bulkId: number | null; single: { ficheId: number } | null }
  | { ok: false; reason: 'outside'; ids: number[] }
  | { ok: false; reason: 'conflict'; plan: BulkPlan }
  | { ok: false; reason: 'evidence'; stepIds: number[] }
  /** another process held the same rows (PostgreSQL broke a deadlock): nothing applied, the user may try again */
  | { ok: false; reason: 'busy' };

/**
 * Takes the fiches' rows for the rest of the transaction, only where each is still at the version seen: one guarded
 * no-op update per 400 (fiche, version) pairs. False when one of them moved (or is not the homologation's).
 */
async function lockAtVersions(trx: Knex.Transaction, planId: number, pairs: readonly [number, number][]): Promise<boolean> {
  let locked = 0;
  for (const part of chunks(pairs)) {
    locked += await trx('fiches').where('plan_id', planId).whereIn(['id', 'version'], part.map((p) => [...p]))
      .update({ version: trx.raw('??', ['version']) });
  }
  return locked === pairs.length;
}

const isDeadlock = (err: unknown) => typeof err === 'object' && err !== null && ['40P01', '40001'].includes(String((err as { code?: unknown }).code));

/**
 * Applies one change to the selected fiches (or steps), all or nothing, in one transaction under the homologation's row
 * lock (as an import: bulk operations of a homologation follow one another). Every selected object's fiche is taken at
 * the version seen by a guarded update, so a change made meanwhile refuses the whole selection with the preview's
 * conflicts; then the objects are read under the lock, planned as the preview did, and written a few statements per
 * 400 objects: the field in one update, each fiche changed moved by one version (once, however many of its steps
 * changed) in a guarded update, the notes in one insert. One audit entry per object changed, grouped under one bulk operation.
 */
export async function applyBulkChange(
  db: Knex, planId: number, target: BulkTarget, selection: readonly BulkSelection[], change: BulkChange,
  opts: { actor: Actor; at: Date; today: string; evidenceRequired: boolean },
): Promise<BulkApplyResult> {
  const { actor, at } = opts;
  const iso = at.toISOString();
  const refuseWithPlan = async (trx: Knex.Transaction): Promise<never> => {
    const plan = planBulk(await bulkObjects(trx, planId, target, selection.map((s) => s.id)), selection, change);
    if (plan.outside.length) throw new Refused<BulkApplyResult>({ ok: false, reason: 'outside', ids: plan.outside });
    throw new Refused<BulkApplyResult>({ ok: false, reason: 'conflict', plan });
  };
  try {
    const done = await bulkWrite<BulkApplyResult, BulkApplyResult>(db, { actor, at }, {
      planId, kind: target, summary: (n) => operationSummary(change, target, n),
    }, async (trx, audit) => {
      await trx('plans').where('id', planId).update({ id: trx.raw('??', ['id']) });
      // each selected object's fiche, at the version seen (a step's fiche is its own for good: read before the lock)
      const first = new Map<number, number>();
      for (const s of selection) if (!first.has(s.id)) first.set(s.id, s.seenVersion);
      let ficheOf = new Map<number, number>();
      if (target === 'actions') {
        for (const part of chunks([...first.keys()])) {
          const rows = await trx('steps').join('fiches', 'fiches.id', 'steps.fiche_id').where('fiches.plan_id', planId).whereIn('steps.id', part).select('steps.id', 'steps.fiche_id');
          for (const r of rows) ficheOf.set(Number(r.id), Number(r.fiche_id));
        }
      } else {
        ficheOf = new Map([...first.keys()].map((id) => [id, id]));
      }
      if (ficheOf.size !== first.size) await refuseWithPlan(trx);
      const pairs = new Map<string, [number, number]>();
      for (const [id, version] of first) pairs.set(`${ficheOf.get(id)}:${version}`, [ficheOf.get(id)!, version]);
      if (!(await lockAtVersions(trx, planId, [...pairs.values()]))) await refuseWithPlan(trx);

      const plan = planBulk(await bulkObjects(trx, planId, target, [...first.keys()]), selection, change);
      if (plan.outside.length) throw new Refused<BulkApplyResult>({ ok: false, reason: 'outside', ids: plan.outside });
      if (plan.conflicts.length) throw new Refused<BulkApplyResult>({ ok: false, reason: 'conflict', plan });
      if (!plan.changes.length) return { ok: true, count: 0, bulkId: null, single: null };
      if (target === 'actions' && change.kind === 'status' && change.status === 'fait' && opts.evidenceRequired) {
        const missing = await stepsWithoutEvidence(trx, plan.changes.map((c) => c.object.id));
        if (missing.length) throw new Refused<BulkApplyResult>({ ok: false, reason: 'evidence', stepIds: missing });
      }

      const ids = plan.changes.map((c) => c.object.id);
      const noteIds = new Map<number, number>();
      if (change.kind === 'note') {
        for (const part of chunks(plan.changes)) {
          const rows = await trx('progress_notes').insert(part.map((c) => ({
            fiche_id: c.object.ficheId, author_id: actor.id, noted_on: opts.today, created_at: iso, body: String(c.after.body),
            status_before: null, status_after: null,
          }))).returning(['id', 'fiche_id', 'body']);
          const byKey = new Map(rows.map((r: { id: unknown; fiche_id: unknown; body: unknown }) => [`${Number(r.fiche_id)}\n${String(r.body)}`, Number(r.id)]));
          for (const c of part) {
            const id = byKey.get(`${c.object.ficheId}\n${String(c.after.body)}`);
            if (id !== undefined) noteIds.set(c.object.id, id);
          }
        }
      } else if (target === 'fiches') {
        const set = change.kind === 'status' ? { status: change.status } : change.kind === 'date' ? { target_date: change.targetDate } : null;
        for (const part of chunks(ids)) {
          if (set) {
            if ((await trx('fiches').where('plan_id', planId).whereIn('id', part).update(set)) !== part.length) await refuseWithPlan(trx);
          } else if (change.kind === 'team') {
            await trx('fiche_owners').whereIn('fiche_id', part).delete();
            await trx('fiche_owners').insert(part.map((id) => ({ fiche_id: id, team_id: change.teamId, service_id: null })));
          }
        }
      } else {
        const set = change.kind === 'status' ? { status: change.status }
          : change.kind === 'date' ? { target_date: change.targetDate }
            : change.kind === 'assignee' ? {
              assignee_user_id: change.assignee?.startsWith('u') ? Number(change.assignee.slice(1)) : null,
              assignee_person_id: change.assignee?.startsWith('p') ? Number(change.assignee.slice(1)) : null,
            } : null;
        if (!set) throw new Error(`Changement ${change.kind} impossible sur des actions`);
        for (const part of chunks(ids)) {
          const updated = await trx('steps').whereIn('id', part).whereIn('fiche_id', trx('fiches').where('plan_id', planId).select('id')).update(set);
          if (updated !== part.length) await refuseWithPlan(trx);
        }
        // the fiches whose steps done moved: the dashboard's trend
        if (change.kind === 'status') await recordProgress(trx, plan.changes.map((c) => c.object.ficheId), at);
      }
      // each fiche changed moves by one version, from the version seen and locked above
      const bumped = fichesBumped(plan, change);
      for (const part of chunks(bumped)) {
        const moved = await trx('fiches').where('plan_id', planId).whereIn(['id', 'version'], part.map((b) => [b.ficheId, b.version]))
          .update({ version: trx.raw('?? + 1', ['version']), updated_at: iso });
        if (moved !== part.length) await refuseWithPlan(trx);
      }
      for (const c of plan.changes) {
        const noteId = noteIds.get(c.object.id);
        audit({
          action: change.kind === 'note' ? 'note' : 'update',
          entityType: c.object.step ? 'step' : 'fiche', entityId: c.object.id,
          summary: entrySummary(c.object, change, c.before, c.after),
          ...(c.before ? { before: c.before } : {}),
          after: { ...c.after, ...(c.object.step ? { ficheId: c.object.ficheId } : {}), ...(noteId !== undefined ? { noteId, notedOn: opts.today } : {}) },
        });
      }
      const [only] = plan.changes;
      return { ok: true, count: plan.changes.length, bulkId: null, single: plan.changes.length === 1 && only ? { ficheId: only.object.ficheId } : null };
    });
    if ('refused' in done) return done.refused;
    return done.result.ok ? { ...done.result, bulkId: done.bulkId } : done.result;
  } catch (err) {
    if (isDeadlock(err)) return { ok: false, reason: 'busy' };
    throw err;
  }
}
