import type { Knex } from 'knex';
import {
  type CommuneStepStatus, communeLabel, type SideEffectAnswer, SIDE_EFFECT_ANSWER_LABELS, type StoredAnswer, strongEffects, wordingFingerprint,
} from '../domain/commune-answers';
import type { Actor } from '../domain/roles';
import { type SideEffectLevel, type Status, STATUS_LABELS } from '../domain/statuses';
import { de, frenchCollator } from '../domain/words';
import { visibleTo } from './fiches';
import { auditedWrite, insertedId, Refused } from './write';

/** Fiche ids as a list or as a sub-query selecting them. */
type FicheIds = readonly number[] | Knex.QueryBuilder;

const idsOf = (ids: FicheIds) => (Array.isArray(ids) ? [...ids] : (ids as Knex.QueryBuilder).clone());
const isEmpty = (ids: FicheIds) => Array.isArray(ids) && ids.length === 0;

/** The (fiche, instance) pairs of these fiches' scopes: their own list, or their homologation's perimeter. */
function scopePairs(db: Knex, ficheIds: FicheIds) {
  return db('fiche_instances').whereIn('fiche_id', idsOf(ficheIds)).select('fiche_id', 'instance_id')
    .unionAll((u) => {
      u.from('fiches').join('plan_instances', 'plan_instances.plan_id', 'fiches.plan_id')
        .whereIn('fiches.id', idsOf(ficheIds)).where('fiches.scope_all', true)
        .select('fiches.id as fiche_id', 'plan_instances.instance_id');
    });
}

/** Each fiche's communes in French order: each commune ranked once, then each list by rank (not a collation per comparison). */
function byFiche(rows: readonly { fiche_id: number; id: number; name: string }[]): Map<number, { id: number; name: string }[]> {
  const out = new Map<number, { id: number; name: string }[]>();
  for (const r of rows) {
    const list = out.get(Number(r.fiche_id)) ?? [];
    list.push({ id: Number(r.id), name: String(r.name) });
    out.set(Number(r.fiche_id), list);
  }
  const names = new Map(rows.map((r) => [Number(r.id), String(r.name)]));
  const rank = new Map([...names].sort((a, b) => frenchCollator.compare(a[1], b[1])).map(([id], i) => [id, i]));
  for (const list of out.values()) list.sort((a, b) => rank.get(a.id)! - rank.get(b.id)!);
  return out;
}

/**
 * The communes concerned by each fiche: the communes of the instances in its scope (a fiche on the whole perimeter:
 * the homologation's perimeter), in French order. One query whatever the number of fiches.
 */
export async function concernedCommunes(db: Knex, ficheIds: FicheIds): Promise<Map<number, { id: number; name: string }[]>> {
  if (isEmpty(ficheIds)) return new Map();
  const rows: { fiche_id: number; id: number; name: string }[] = await db.from(scopePairs(db, ficheIds).as('s'))
    .join('instances', 'instances.id', 's.instance_id').join('communes', 'communes.id', 'instances.commune_id')
    .distinct('s.fiche_id', 'communes.id', 'communes.name');
  return byFiche(rows);
}

/**
 * For the agenda: how many communes each fiche with a strong side effect concerns and, up to `listed` of them, which;
 * beyond, only those that answered (a national fiche concerns a thousand communes: their list is not read, and was
 * a million rows for an agenda). Two queries whatever the number of fiches.
 */
export async function concernedForAgenda(db: Knex, ficheIds: readonly number[], listed: number): Promise<Map<number, { total: number; communes: { id: number; name: string }[] }>> {
  const out = new Map<number, { total: number; communes: { id: number; name: string }[] }>();
  if (!ficheIds.length) return out;
  const strong = () => db('fiches').whereIn('id', [...ficheIds])
    .whereExists(db('side_effects').whereRaw('side_effects.fiche_id = fiches.id').where('level', 'fort').select(db.raw('1'))).select('id');
  const counts: { fiche_id: number; n: number | string }[] = await db.from(scopePairs(db, strong()).as('s'))
    .join('instances', 'instances.id', 's.instance_id').whereNotNull('instances.commune_id')
    .groupBy('s.fiche_id').select('s.fiche_id', db.raw('count(distinct instances.commune_id) as n'));
  const small = counts.filter((c) => Number(c.n) <= listed).map((c) => Number(c.fiche_id));
  const rows: { fiche_id: number; id: number; name: string }[] = counts.length ? await db.from(scopePairs(db, strong()).as('s'))
    .join('instances', 'instances.id', 's.instance_id').join('communes', 'communes.id', 'instances.commune_id')
    .where((q) => q.whereIn('s.fiche_id', small.length ? small : [-1]).orWhereExists(db('side_effect_answers')
      .whereRaw('side_effect_answers.fiche_id = s.fiche_id').whereRaw('side_effect_answers.commune_id = communes.id').select(db.raw('1'))))
    .distinct('s.fiche_id', 'communes.id', 'communes.name') : [];
  const lists = byFiche(rows);
  for (const c of counts) out.set(Number(c.fiche_id), { total: Number(c.n), communes: lists.get(Number(c.fiche_id)) ?? [] });
  return out;
}

const stepStatusOf = (r: Record<string, unknown>): CommuneStepStatus => ({
  stepId: Number(r.step_id), communeId: Number(r.commune_id), status: r.status as Status, version: Number(r.version),
  updatedAt: (r.updated_at as string | null) ?? null,
});

/** The communes' own statuses of these steps (only the rows written: a missing one is not started, version 0); one commune's when given. */
export async function communeStepStatuses(db: Knex, stepIds: readonly number[], communeId: number | null): Promise<CommuneStepStatus[]> {
  if (!stepIds.length) return [];
  const query = db('commune_steps').whereIn('step_id', [...stepIds]).select('step_id', 'commune_id', 'status', 'version', 'updated_at');
  if (communeId !== null) query.where('commune_id', communeId);
  return (await query).map(stepStatusOf);
}

/** A step that falls to the communes, with one commune's own status of it, for that commune's page. */
export interface CommuneStepOfFiche extends CommuneStepStatus {
  ficheId: number;
  ficheNumber: number;
  ficheTitle: string;
  position: number;
  label: string;
}

/** The steps "à mener par les communes" of these fiches with the commune's own status, in fiche then step order. One query. */
export async function communeStepsOfFiches(db: Knex, ficheIds: FicheIds, communeId: number): Promise<CommuneStepOfFiche[]> {
  if (isEmpty(ficheIds)) return [];
  const rows: Record<string, unknown>[] = await db('steps').join('fiches', 'fiches.id', 'steps.fiche_id')
    .leftJoin('commune_steps as cs', (j) => { j.on('cs.step_id', 'steps.id').andOn('cs.commune_id', db.raw('?', [communeId])); })
    .whereIn('steps.fiche_id', idsOf(ficheIds)).where('steps.for_communes', true)
    .orderBy([{ column: 'fiches.number' }, { column: 'steps.position' }])
    .select('steps.id', 'steps.fiche_id', 'steps.position', 'steps.label', 'fiches.number', 'fiches.title', 'cs.status', 'cs.version', 'cs.updated_at');
  return rows.map((r) => ({
    stepId: Number(r.id), communeId, ficheId: Number(r.fiche_id), ficheNumber: Number(r.number), ficheTitle: String(r.title),
    position: Number(r.position), label: String(r.label),
    status: (r.status as Status | null) ?? 'non_demarre', version: r.version === null || r.version === undefined ? 0 : Number(r.version),
    updatedAt: (r.updated_at as string | null) ?? null,
  }));
}

/** The strong side effects' descriptions of each fiche that has some, in the fiche's order. One query. */
export async function strongEffectsOf(db: Knex, ficheIds: FicheIds): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (isEmpty(ficheIds)) return out;
  const rows: { fiche_id: number; description: string }[] = await db('side_effects').whereIn('fiche_id', idsOf(ficheIds)).where('level', 'fort')
    .orderBy(['fiche_id', 'position']).select('fiche_id', 'description');
  for (const r of rows) out.set(Number(r.fiche_id), [...(out.get(Number(r.fiche_id)) ?? []), String(r.description)]);
  return out;
}

const answerOf = (r: Record<string, unknown>): StoredAnswer => {
  let effects: string[] = [];
  try {
    const parsed: unknown = JSON.parse(String(r.effects));
    if (Array.isArray(parsed)) effects = parsed.map(String);
  } catch {
    // an unreadable wording answers no current wording: shown as to be renewed
  }
  return {
    ficheId: Number(r.fiche_id), communeId: Number(r.commune_id), answer: r.answer as SideEffectAnswer, comment: String(r.comment ?? ''), effects,
    userName: (r.user_name as string | null) ?? null, answeredAt: String(r.answered_at), version: Number(r.version),
  };
};

/** The communes' answers to these fiches' strong side effects (one commune's when given). One query. */
export async function sideEffectAnswers(db: Knex, ficheIds: FicheIds, communeId: number | null = null): Promise<StoredAnswer[]> {
  if (isEmpty(ficheIds)) return [];
  const query = db('side_effect_answers as a').leftJoin('users', 'users.id', 'a.user_id').whereIn('a.fiche_id', idsOf(ficheIds))
    .select('a.*', 'users.name as user_name');
  if (communeId !== null) query.where('a.commune_id', communeId);
  return (await query).map(answerOf);
}

/** What a commune's write targets: a fiche of the homologation, visible to the commune, and the commune itself. */
export interface CommuneTarget { ficheId: number; planId: number; communeId: number }

/**
 * Takes the fiche's row for the rest of the transaction (a no-op update: a row lock on PostgreSQL, the write lock on
 * SQLite), so a fiche saved meanwhile (its steps, scope and side effects) waits or is seen whole; then checks it is
 * still one the commune sees. Its number and the commune's name, or undefined.
 */
async function lockForCommune(trx: Knex.Transaction, target: CommuneTarget): Promise<{ number: number; communeName: string } | undefined> {
  const locked = await trx('fiches').where({ id: target.ficheId, plan_id: target.planId }).update({ version: trx.raw('??', ['version']) });
  if (!locked) return undefined;
  const visible = await visibleTo(trx('fiches').where('fiches.id', target.ficheId), trx, target.communeId).first('fiches.number');
  const commune = await trx('communes').where('id', target.communeId).first('name');
  if (!visible || !commune) return undefined;
  return { number: Number(visible.number), communeName: String(commune.name) };
}

export type CommuneStepsResult =
  | { ok: true; changed: number }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'unknown_step'; stepIds: number[] }
  | { ok: false; reason: 'conflict'; stepIds: number[] };

/**
 * Sets the commune's own status of steps "à mener par les communes" of one fiche, all or nothing: each step must be
 * one of the fiche's steps for the communes (else nothing is written), and each changed one still at the version the
 * commune's agent saw (a change made meanwhile refuses the whole form). A row is inserted at version 0 when missing,
 * then moved by a guarded update. The fiche's own step status is not touched. Each change has its audit entry.
 */
export async function setCommuneSteps(
  db: Knex, target: CommuneTarget, rows: readonly { stepId: number; seenVersion: number; status: Status }[], actor: Actor, at: Date,
): Promise<CommuneStepsResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<CommuneStepsResult> => {
    const fiche = await lockForCommune(trx, target);
    if (!fiche) return { ok: false, reason: 'not_found' };
    const ids = rows.map((r) => r.stepId);
    const steps = new Map<number, string>((await trx('steps').where({ fiche_id: target.ficheId }).where('for_communes', true).whereIn('id', ids).select('id', 'label'))
      .map((s) => [Number(s.id), String(s.label)]));
    const unknown = [...new Set(ids.filter((id, i) => !steps.has(id) || ids.indexOf(id) !== i))];
    if (unknown.length) return { ok: false, reason: 'unknown_step', stepIds: unknown };
    const current = new Map((await communeStepStatuses(trx, ids, target.communeId)).map((s) => [s.stepId, s]));
    const changes = rows.flatMap((r) => {
      const now = current.get(r.stepId) ?? { status: 'non_demarre' as Status, version: 0 };
      return now.status === r.status ? [] : [{ ...r, before: now }];
    });
    const stale = changes.filter((c) => c.before.version !== c.seenVersion).map((c) => c.stepId);
    if (stale.length) return { ok: false, reason: 'conflict', stepIds: stale };
    for (const c of changes) {
      if (c.seenVersion === 0) {
        await trx('commune_steps').insert({ step_id: c.stepId, commune_id: target.communeId, status: 'non_demarre', version: 0 })
          .onConflict(['step_id', 'commune_id']).ignore();
      }
      const updated = await trx('commune_steps').where({ step_id: c.stepId, commune_id: target.communeId, version: c.seenVersion })
        .update({ status: c.status, version: trx.raw('?? + 1', ['version']), updated_at: at.toISOString(), updated_by: actor.id });
      // another process moved it between the read and this update: nothing of the form is kept
      if (updated !== 1) throw new Refused<CommuneStepsResult>({ ok: false, reason: 'conflict', stepIds: [c.stepId] });
      await audit({
        action: 'update', entityType: 'commune_step', entityId: c.stepId,
        summary: `${communeLabel(fiche.communeName)}, fiche n°${fiche.number}, action « ${steps.get(c.stepId)} » : ${STATUS_LABELS[c.before.status]} → ${STATUS_LABELS[c.status]}`,
        before: { ficheId: target.ficheId, communeId: target.communeId, status: c.before.status },
        after: { ficheId: target.ficheId, communeId: target.communeId, status: c.status },
      });
    }
    return { ok: true, changed: changes.length };
  });
}

/**
 * A progress note written by a commune's agent: labelled with the commune, dated the day it is written, never a
 * change of the fiche's status (the fiche and its version stay as they are). False when the fiche is not (or no
 * longer) one the commune sees.
 */
export async function addCommuneNote(db: Knex, target: CommuneTarget, body: string, notedOn: string, actor: Actor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const fiche = await lockForCommune(trx, target);
    if (!fiche) return false;
    const noteId = insertedId(await trx('progress_notes').insert({
      fiche_id: target.ficheId, author_id: actor.id, commune_id: target.communeId, noted_on: notedOn, created_at: at.toISOString(), body,
      status_before: null, status_after: null,
    }).returning('id'));
    await audit({
      action: 'note', entityType: 'fiche', entityId: target.ficheId,
      summary: `Point d'avancement de la commune ${de(fiche.communeName)} sur la fiche n°${fiche.number}`,
      after: { noteId, notedOn, body, communeId: target.communeId },
    });
    return true;
  });
}

export type AnswerResult =
  | { ok: true }
  | { ok: false; reason: 'not_found' | 'no_strong_effect' | 'wording_changed' | 'conflict' };

/**
 * Records a commune's acknowledgement of (or objection to) a fiche's strong side effects, with their wording as the
 * fiche now has it: only if that wording is the one the agent read (its fingerprint), and only if the commune's answer
 * is still at the version the agent saw (0: none yet). Audited.
 */
export async function answerSideEffects(
  db: Knex, target: CommuneTarget, input: { answer: SideEffectAnswer; comment: string; seenVersion: number; fingerprint: string }, actor: Actor, at: Date,
): Promise<AnswerResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<AnswerResult> => {
    const fiche = await lockForCommune(trx, target);
    if (!fiche) return { ok: false, reason: 'not_found' };
    const effects = strongEffects(await trx('side_effects').where('fiche_id', target.ficheId).orderBy('position')
      .select('level', 'description') as { level: SideEffectLevel; description: string }[]);
    if (!effects.length) return { ok: false, reason: 'no_strong_effect' };
    if (wordingFingerprint(effects) !== input.fingerprint) return { ok: false, reason: 'wording_changed' };
    const key = { fiche_id: target.ficheId, commune_id: target.communeId };
    const before = await trx('side_effect_answers').where(key).first();
    const row = { answer: input.answer, comment: input.comment, effects: JSON.stringify(effects), user_id: actor.id, answered_at: at.toISOString() };
    if (input.seenVersion === 0) {
      const inserted = await trx('side_effect_answers').insert({ ...key, ...row, version: 1 }).onConflict(['fiche_id', 'commune_id']).ignore().returning('fiche_id');
      if (!inserted.length) return { ok: false, reason: 'conflict' };
    } else {
      const updated = await trx('side_effect_answers').where({ ...key, version: input.seenVersion }).update({ ...row, version: trx.raw('?? + 1', ['version']) });
      if (updated !== 1) return { ok: false, reason: 'conflict' };
    }
    await audit({
      action: before ? 'update' : 'create', entityType: 'side_effect_answer', entityId: target.ficheId,
      summary: `${communeLabel(fiche.communeName)}, fiche n°${fiche.number} : ${SIDE_EFFECT_ANSWER_LABELS[input.answer].toLowerCase()} des effets de bord forts`,
      before: before ? { communeId: target.communeId, answer: before.answer, comment: before.comment, effects: answerOf(before).effects } : undefined,
      after: { communeId: target.communeId, answer: input.answer, comment: input.comment, effects },
    });
    return { ok: true };
  });
}

/** A progress note written since an instant, with the commune that wrote it (null: the project team). */
export interface NoteSince { ficheId: number; notedOn: string; body: string; authorName: string; communeId: number | null; communeName: string | null }

/**
 * Progress notes written since an instant, per fiche, oldest first, with the commune of a commune's note. With
 * `communeId`, the project team's notes and that commune's own only (never another commune's).
 */
export async function notesSinceWithCommunes(db: Knex, ficheIds: readonly number[], sinceIso: string, communeId?: number): Promise<NoteSince[]> {
  if (!ficheIds.length) return [];
  const query = db('progress_notes').leftJoin('users', 'users.id', 'progress_notes.author_id').leftJoin('communes', 'communes.id', 'progress_notes.commune_id')
    .whereIn('progress_notes.fiche_id', [...ficheIds]).where('progress_notes.created_at', '>', sinceIso)
    .orderBy(['progress_notes.noted_on', 'progress_notes.id'])
    .select('progress_notes.fiche_id', 'progress_notes.noted_on', 'progress_notes.body', 'progress_notes.commune_id', 'users.name as author_name', 'communes.name as commune_name');
  if (communeId !== undefined) query.where((q) => q.whereNull('progress_notes.commune_id').orWhere('progress_notes.commune_id', communeId));
  return (await query).map((r) => ({
    ficheId: Number(r.fiche_id), notedOn: String(r.noted_on), body: String(r.body), authorName: String(r.author_name ?? 'Compte supprimé'),
    communeId: r.commune_id === null || r.commune_id === undefined ? null : Number(r.commune_id), communeName: (r.commune_name as string | null) ?? null,
  }));
}

/** The latest progress note of the project team on each fiche (a commune's note is its own, not the fiche's progress), in one query. */
export async function latestTeamNotes(db: Knex, ids: readonly number[]): Promise<Map<number, { notedOn: string; body: string }>> {
  if (!ids.length) return new Map();
  const rows = await db('progress_notes as p')
    .whereIn('p.fiche_id', db('fiches').whereIn('id', [...ids]).select('id'))
    .whereRaw('p.id = (select q.id from progress_notes q where q.fiche_id = p.fiche_id and q.commune_id is null order by q.noted_on desc, q.id desc limit 1)')
    .select('p.fiche_id', 'p.noted_on', 'p.body');
  return new Map(rows.map((r) => [Number(r.fiche_id), { notedOn: String(r.noted_on), body: String(r.body) }]));
}
