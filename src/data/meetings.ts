import type { Knex } from 'knex';
import type { Agenda } from '../domain/agenda';
import type { FicheState } from '../domain/changes';
import type { Actor } from '../domain/roles';
import { endDateOf, isReadOnly, type Outcome, OUTCOME_LABELS, stateOf } from '../domain/homologation';
import { conditionTitle } from '../domain/lifecycle';
import type { Status } from '../domain/statuses';
import { visibleTo } from './fiches';
import { decisionOf } from './homologations';
import { reads } from './reads';
import { freezeAcceptedRisks, lockRiskSettings } from './risk-acceptance';
import { type Audit, auditedWrite, insertedId } from './write';

export type MeetingKind = 'suivi' | 'signature';

export interface Attendee { userId: number | null; name: string; organisation: string }

/** What an editor sets on a meeting. */
export interface MeetingInput {
  title: string;
  kind: MeetingKind;
  startsAt: string;
  endsAt: string;
  place: string;
  visioUrl: string;
  objective: string;
  reminder: string;
  questions: string;
  coversAll: boolean;
  ficheIds: number[];
  attendees: Attendee[];
}

export interface Meeting extends MeetingInput {
  id: number;
  planId: number;
  sectionOrder: string[];
  record: string;
  heldAt: string | null;
  snapshot: Agenda | null;
  version: number;
}

export interface Decision { id: number; ficheId: number | null; text: string; authorName: string; createdAt: string }

/** The homologation decision as recorded at a signature meeting. */
export interface Signature {
  id: number; meetingId: number | null; signed: boolean; outcome: Outcome; authority: string; authorityEmail: string; decidedOn: string;
  durationMonths: number | null; endsOn: string | null; conditions: string; createdAt: string;
}

/** A condition of a decision "sous conditions" (or provisoire): it becomes a fiche of the homologation. */
export interface ConditionInput { text: string; teamId: number | null; targetDate: string | null }

/** What the signature meeting's form records. */
export interface SignatureInput {
  outcome: Outcome;
  authority: string;
  authorityEmail: string;
  decidedOn: string;
  /** Null for a refusal. */
  durationMonths: number | null;
  /** The end date the authority set, when it is not the decision date plus the duration. */
  endsOn: string | null;
  conditions: ConditionInput[];
}

export type SignatureResult =
  | { ok: true; id: number; endsOn: string | null; conditionFicheIds: number[]; replacedId: number | null }
  | { ok: false; reason: 'read_only' | 'not_found' };

function fromRow(r: Record<string, unknown>, attendees: Attendee[], ficheIds: number[]): Meeting {
  return {
    id: Number(r.id), planId: Number(r.plan_id), title: String(r.title), kind: r.kind as MeetingKind,
    startsAt: String(r.starts_at), endsAt: String(r.ends_at), place: String(r.place), visioUrl: String(r.visio_url),
    objective: String(r.objective), reminder: String(r.reminder), questions: String(r.questions), coversAll: Boolean(r.covers_all),
    ficheIds, sectionOrder: JSON.parse(String(r.section_order)) as string[], record: String(r.record),
    heldAt: (r.held_at as string | null) ?? null, snapshot: r.snapshot ? (JSON.parse(String(r.snapshot)) as Agenda) : null,
    version: Number(r.version), attendees,
  };
}

export async function getMeeting(db: Knex, id: number): Promise<Meeting | undefined> {
  const row = await db('meetings').where({ id }).first();
  if (!row) return undefined;
  const [attendees, fiches] = await reads(db,
    () => db('meeting_attendees').where({ meeting_id: id }).orderBy('id'),
    () => db('meeting_fiches').where({ meeting_id: id }).select('fiche_id'),
  );
  return fromRow(
    row,
    attendees.map((a) => ({ userId: a.user_id ?? null, name: a.name, organisation: a.organisation })),
    fiches.map((f: { fiche_id: number }) => Number(f.fiche_id)),
  );
}

/** A fiche of a meeting's agenda, as its outline lists it. */
export interface AgendaOutlineFiche { id: number; number: number; title: string; status: Status }

/**
 * The fiches a meeting's agenda details, in number order: the plan's for a meeting covering them all, else the
 * meeting's own; with `communeId`, those that commune's staff may see. One statement.
 */
export async function meetingFiches(db: Knex, meeting: Pick<Meeting, 'id' | 'planId' | 'coversAll'>, communeId: number | null): Promise<AgendaOutlineFiche[]> {
  const query = visibleTo(db('fiches').where('fiches.plan_id', meeting.planId), db, communeId);
  if (!meeting.coversAll) query.whereIn('fiches.id', db('meeting_fiches').where('meeting_id', meeting.id).select('fiche_id'));
  const rows: { id: number; number: number; title: string; status: Status }[] = await query
    .select('fiches.id', 'fiches.number', 'fiches.title', 'fiches.status').orderBy('fiches.number');
  return rows.map((r) => ({ id: Number(r.id), number: Number(r.number), title: String(r.title), status: r.status }));
}

export interface MeetingSummary { id: number; title: string; kind: MeetingKind; startsAt: string; endsAt: string; place: string; heldAt: string | null }

/** The plan's meetings, newest first; a commune agent sees those covering a fiche it may see. */
export async function listMeetings(db: Knex, planId: number, visibleFicheIds: number[] | null): Promise<MeetingSummary[]> {
  const query = db('meetings').where({ plan_id: planId }).orderBy('starts_at', 'desc')
    .select('id', 'title', 'kind', 'starts_at', 'ends_at', 'place', 'held_at');
  if (visibleFicheIds !== null) {
    query.where((q) => {
      q.where((all) => all.where('covers_all', true).whereRaw(visibleFicheIds.length > 0 ? '1 = 1' : '1 = 0'))
        .orWhereExists(db('meeting_fiches').select(db.raw('1')).whereRaw('meeting_fiches.meeting_id = meetings.id').whereIn('fiche_id', visibleFicheIds));
    });
  }
  return (await query).map((r) => ({ id: r.id, title: r.title, kind: r.kind, startsAt: r.starts_at, endsAt: r.ends_at, place: r.place, heldAt: r.held_at ?? null }));
}

/** The meeting of the same plan just before this one, held or not. */
export async function previousMeeting(db: Knex, planId: number, startsAt: string, excludeId?: number): Promise<MeetingSummary | undefined> {
  const query = db('meetings').where({ plan_id: planId }).where('starts_at', '<', startsAt).orderBy('starts_at', 'desc').first();
  if (excludeId) query.whereNot('id', excludeId);
  const r = await query;
  return r ? { id: r.id, title: r.title, kind: r.kind, startsAt: r.starts_at, endsAt: r.ends_at, place: r.place, heldAt: r.held_at ?? null } : undefined;
}

async function writeChildren(trx: Knex, id: number, input: MeetingInput) {
  await trx('meeting_attendees').where({ meeting_id: id }).delete();
  if (input.attendees.length) {
    await trx('meeting_attendees').insert(input.attendees.map((a) => ({ meeting_id: id, user_id: a.userId, name: a.name, organisation: a.organisation })));
  }
  await trx('meeting_fiches').where({ meeting_id: id }).delete();
  if (!input.coversAll && input.ficheIds.length) {
    await trx('meeting_fiches').insert(input.ficheIds.map((ficheId) => ({ meeting_id: id, fiche_id: ficheId })));
  }
}

const columns = (i: MeetingInput) => ({
  title: i.title, kind: i.kind, starts_at: i.startsAt, ends_at: i.endsAt, place: i.place, visio_url: i.visioUrl,
  objective: i.objective, reminder: i.reminder, questions: i.questions, covers_all: i.coversAll,
});

export async function createMeeting(db: Knex, planId: number, input: MeetingInput, actor: Actor, at: Date): Promise<number> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const id = insertedId(await trx('meetings').insert({ ...columns(input), plan_id: planId, section_order: '[]', created_at: at.toISOString(), updated_at: at.toISOString() }).returning('id'));
    await writeChildren(trx, id, input);
    await audit({ action: 'create', entityType: 'meeting', entityId: id, summary: input.title, after: input });
    return id;
  });
}

export type MeetingUpdate = 'ok' | 'conflict' | 'held' | 'not_found';

/** Changes a meeting still in preparation; a held meeting's record is frozen. */
export async function updateMeeting(
  db: Knex, id: number, version: number, change: Partial<MeetingInput> & { sectionOrder?: string[] }, actor: Actor, at: Date,
): Promise<MeetingUpdate> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    // The meeting's row is taken (a no-op update guarded by the version) before it is read: a concurrent save,
    // from another process too, waits, and the version moves by one from the version checked, in one statement.
    const locked = await trx('meetings').where({ id, version }).whereNull('held_at').update({ version: trx.raw('??', ['version']) });
    const before = await getMeeting(trx, id);
    if (!before) return 'not_found';
    if (before.heldAt) return 'held';
    if (locked === 0) return 'conflict';
    const merged: MeetingInput = { ...before, ...change };
    const n = await trx('meetings').where({ id, version }).whereNull('held_at').update({
      ...columns(merged),
      ...(change.sectionOrder ? { section_order: JSON.stringify(change.sectionOrder) } : {}),
      version: trx.raw('?? + 1', ['version']), updated_at: at.toISOString(),
    });
    if (n === 0) return 'conflict';
    await writeChildren(trx, id, merged);
    const { snapshot: _s, ...beforeView } = before;
    await audit({ action: 'update', entityType: 'meeting', entityId: id, summary: merged.title, before: beforeView, after: { ...merged, ...(change.sectionOrder ? { sectionOrder: change.sectionOrder } : {}) } });
    return 'ok';
  });
}

/** Holds the meeting: its agenda is stored as it stands and never re-rendered from later data. */
export async function holdMeeting(db: Knex, id: number, agenda: Agenda, actor: Actor, at: Date): Promise<boolean> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const n = await trx('meetings').where({ id }).whereNull('held_at')
      .update({ held_at: at.toISOString(), snapshot: JSON.stringify(agenda), updated_at: at.toISOString() });
    if (n === 0) return false;
    await audit({ action: 'update', entityType: 'meeting', entityId: id, summary: `Séance tenue : ${agenda.meetingTitle}`, after: { heldAt: at.toISOString() } });
    return true;
  });
}

export async function setRecord(db: Knex, id: number, record: string, actor: Actor, at: Date): Promise<void> {
  await auditedWrite(db, { actor, at }, async (trx, audit) => {
    const before = await trx('meetings').where({ id }).select('record').first();
    await trx('meetings').where({ id }).update({ record, updated_at: at.toISOString() });
    await audit({ action: 'update', entityType: 'meeting', entityId: id, summary: 'Relevé de décisions', before, after: { record } });
  });
}

export async function addDecision(db: Knex, meetingId: number, ficheId: number | null, text: string, actor: Actor, at: Date): Promise<void> {
  await auditedWrite(db, { actor, at }, async (trx, audit) => {
    const id = insertedId(await trx('meeting_decisions').insert({ meeting_id: meetingId, fiche_id: ficheId, text, author_id: actor.id, created_at: at.toISOString() }).returning('id'));
    await audit({ action: 'create', entityType: 'decision', entityId: id, summary: text.slice(0, 120), after: { meetingId, ficheId, text } });
  });
}

export async function listDecisions(db: Knex, meetingId: number): Promise<Decision[]> {
  const rows = await db('meeting_decisions').leftJoin('users', 'users.id', 'meeting_decisions.author_id')
    .where('meeting_decisions.meeting_id', meetingId).orderBy('meeting_decisions.id')
    .select('meeting_decisions.*', 'users.name as author_name');
  return rows.map((r) => ({ id: r.id, ficheId: r.fiche_id ?? null, text: r.text, authorName: r.author_name ?? 'Compte supprimé', createdAt: r.created_at }));
}

/**
 * Records the authority's decision, in one transaction: the decision and its end date; each condition as a fiche
 * of the homologation (numbered after the last one, linked to the decision); the residual risks it accepts, frozen
 * as they read at that moment (signature_risks: every risk of the homologation, at its residual levels or at its
 * initial ones when none is set; none for a refusal); and, when the decision puts a renewal
 * in force, the homologation it renews archived as replaced, its expiry reminders closed. The homologation's row is
 * taken first, so a decision never lands on a homologation archived meanwhile; refused on an archived or expired
 * one. A fiche created meanwhile by another process under the same number makes the transaction start again.
 */
export async function recordSignature(
  db: Knex, planId: number, meetingId: number, input: SignatureInput, actor: Actor, at: Date, today: string,
): Promise<SignatureResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await auditedWrite<SignatureResult, typeof NUMBER_TAKEN>(db, { actor, at },
      (trx, audit) => writeSignature(trx, audit, planId, meetingId, input, actor, at, today), attempt < 5 ? { unique: NUMBER_TAKEN } : {});
    if (result !== NUMBER_TAKEN) return result;
  }
}

/** A condition's fiche number taken meanwhile by another process: the signature's transaction starts again. */
const NUMBER_TAKEN = Symbol('number taken');

async function writeSignature(
  trx: Knex.Transaction, audit: Audit, planId: number, meetingId: number, input: SignatureInput, actor: Actor, at: Date, today: string,
): Promise<SignatureResult> {
  // the risks accepted are read as they stand: the risk settings' row first, in the order a risk save takes it
  await lockRiskSettings(trx);
  const plan = await trx('plans').where('id', planId).forUpdate().select('id', 'title', 'previous_id', 'archived_at').first();
  if (!plan) return { ok: false, reason: 'not_found' };
  const latest = await trx('signatures').where('plan_id', planId).orderBy([{ column: 'decided_on', order: 'desc' }, { column: 'id', order: 'desc' }]).first();
  const state = stateOf({ archivedAt: plan.archived_at ?? null, ficheCount: 0, decision: latest ? decisionOf(latest) : null }, today);
  if (isReadOnly(state)) return { ok: false, reason: 'read_only' };

  const refused = input.outcome === 'refusee';
  const durationMonths = refused ? null : input.durationMonths;
  const endsOn = refused ? null : (input.endsOn ?? (durationMonths ? endDateOf(input.decidedOn, durationMonths) : null));
  const iso = at.toISOString();
  const id = insertedId(await trx('signatures').insert({
    plan_id: planId, meeting_id: meetingId, signed: !refused, outcome: input.outcome, authority: input.authority, authority_email: input.authorityEmail,
    decided_on: input.decidedOn, duration_months: durationMonths, ends_on: endsOn,
    conditions: input.conditions.map((c) => `- ${c.text}`).join('\n'), author_id: actor.id, created_at: iso,
  }).returning('id'));

  // each condition, a fiche of the homologation: numbered after the last one (the unique number per homologation
  // makes a concurrent creation under the same number fail this transaction, which then starts again)
  const conditionFicheIds: number[] = [];
  if (input.conditions.length) {
    const max = await trx('fiches').where('plan_id', planId).max({ n: 'number' }).first();
    let number = Number(max?.n ?? 0);
    for (const c of input.conditions) {
      number += 1;
      const title = conditionTitle(c.text);
      const ficheId = insertedId(await trx('fiches').insert({
        plan_id: planId, number, title, finding: c.text, target_date: c.targetDate, status: 'non_demarre', conclusion: '', cost_amount: null,
        cost_source: '', scope_all: true, version: 1, created_at: iso, updated_at: iso, condition_of: id,
      }).returning('id'));
      if (c.teamId !== null) await trx('fiche_owners').insert({ fiche_id: ficheId, team_id: c.teamId, service_id: null });
      conditionFicheIds.push(ficheId);
      await audit({
        action: 'create', entityType: 'fiche', entityId: ficheId, summary: `Fiche n°${number} : ${title}`,
        after: {
          number, title, finding: c.text, targetDate: c.targetDate, status: 'non_demarre', steps: [], sideEffects: [],
          owners: c.teamId === null ? [] : [{ teamId: c.teamId, serviceId: null }], scopeAll: true, conditionOf: id,
        },
      });
    }
  }
  // the residual risks the authority accepts, frozen as they read now (a refusal accepts none)
  const acceptedRisks = refused ? [] : await freezeAcceptedRisks(trx, id, planId, input.authority, endsOn);
  await audit({
    action: 'create', entityType: 'signature', entityId: id, summary: `Décision d'homologation : ${OUTCOME_LABELS[input.outcome]}`,
    after: { ...input, durationMonths, endsOn, meetingId, conditionFicheIds, acceptedRisks },
  });

  // the renewal in force replaces the homologation it renews: archived, its reminders closed
  let replacedId: number | null = null;
  if (!refused && plan.previous_id !== null && plan.previous_id !== undefined) {
    replacedId = Number(plan.previous_id);
    const archived = await trx('plans').where('id', replacedId).whereNull('archived_at').update({ archived_at: iso, archived_reason: 'remplacee' });
    if (archived) {
      await audit({
        action: 'update', entityType: 'plan', entityId: replacedId, summary: `Homologation archivée : remplacée par « ${plan.title} »`,
        after: { archivedAt: iso, archivedReason: 'remplacee', replacedBy: planId, signatureId: id },
      });
    }
    await trx('expiry_reminders').where('plan_id', replacedId).whereNull('closed_at').update({ closed_at: iso });
  }
  return { ok: true, id, endsOn, conditionFicheIds, replacedId };
}

const signatureOf = (r: Record<string, unknown>): Signature => {
  const d = decisionOf(r);
  return {
    id: d.id, meetingId: d.meetingId, signed: Boolean(r.signed), outcome: d.outcome, authority: d.authority, authorityEmail: d.authorityEmail,
    decidedOn: d.decidedOn, durationMonths: d.durationMonths, endsOn: d.endsOn, conditions: String(r.conditions ?? ''), createdAt: String(r.created_at),
  };
};

/** The homologation's decisions, the one that counts (latest decision date, then latest recorded) first. */
export async function listSignatures(db: Knex, planId: number): Promise<Signature[]> {
  const rows = await db('signatures').where({ plan_id: planId }).orderBy([{ column: 'decided_on', order: 'desc' }, { column: 'id', order: 'desc' }]);
  return rows.map(signatureOf);
}

/**
 * Each fiche's state at an instant, rebuilt from the audit trail: a fiche's full snapshot (its creation, its form's
 * save, an import), then what changed it piecemeal up to the instant: a progress note's status, a bulk change of its
 * status or date (an entry holding those fields only), and a change of one of its steps (a bulk change, "Mes actions":
 * an entry of the step). One query.
 */
export async function ficheStatesAt(db: Knex, ficheIds: number[], atIso: string): Promise<Map<number, FicheState>> {
  const states = new Map<number, FicheState>();
  if (!ficheIds.length) return states;
  const rows = await db('audit_log').where('at', '<=', atIso)
    .where((q) => q.where((f) => f.where('entity_type', 'fiche').whereIn('entity_id', ficheIds))
      .orWhere((st) => st.where('entity_type', 'step').whereIn('entity_id', db('steps').whereIn('fiche_id', ficheIds).select('id'))))
    .orderBy('id').select('entity_type', 'entity_id', 'action', 'after');
  for (const r of rows) {
    const after = r.after ? JSON.parse(r.after) : null;
    const id = Number(r.entity_id);
    if (r.entity_type === 'step') {
      // a step's own change: its status (or date) in its fiche's state, when that fiche's state is known
      const state = after?.ficheId !== undefined ? states.get(Number(after.ficheId)) : undefined;
      const step = state?.steps.find((st) => st.id === id);
      if (step && after.status) step.status = after.status;
      continue;
    }
    if ((r.action === 'create' || r.action === 'update') && after && Array.isArray(after.steps)) {
      states.set(id, { status: after.status, targetDate: after.targetDate ?? null, steps: after.steps, sideEffects: after.sideEffects ?? [] });
    } else if ((r.action === 'update' || r.action === 'note') && after) {
      // a change of some fields only (a note's status, a bulk change): merged into the state
      const state = states.get(id);
      if (state && after.status) state.status = after.status;
      if (state && r.action === 'update' && Object.hasOwn(after, 'targetDate')) state.targetDate = after.targetDate ?? null;
    } else if (r.action === 'delete') states.delete(id);
  }
  return states;
}

/** Progress notes written since an instant, per fiche, oldest first. */
export async function notesSince(db: Knex, ficheIds: number[], sinceIso: string) {
  if (!ficheIds.length) return [];
  const rows = await db('progress_notes').leftJoin('users', 'users.id', 'progress_notes.author_id')
    .whereIn('progress_notes.fiche_id', ficheIds).where('progress_notes.created_at', '>', sinceIso)
    .orderBy(['progress_notes.noted_on', 'progress_notes.id'])
    .select('progress_notes.fiche_id', 'progress_notes.noted_on', 'progress_notes.body', 'users.name as author_name');
  return rows.map((r) => ({ ficheId: Number(r.fiche_id), notedOn: String(r.noted_on), body: String(r.body), authorName: String(r.author_name ?? 'Compte supprimé') }));
}

/** The committee's decisions about one fiche, newest meeting first. */
export async function decisionsForFiche(db: Knex, ficheId: number): Promise<(Decision & { meetingId: number; meetingTitle: string; meetingDate: string })[]> {
  const rows = await db('meeting_decisions')
    .join('meetings', 'meetings.id', 'meeting_decisions.meeting_id')
    .leftJoin('users', 'users.id', 'meeting_decisions.author_id')
    .where('meeting_decisions.fiche_id', ficheId)
    .orderBy([{ column: 'meetings.starts_at', order: 'desc' }, { column: 'meeting_decisions.id', order: 'desc' }])
    .select('meeting_decisions.*', 'users.name as author_name', 'meetings.title as meeting_title', 'meetings.starts_at as meeting_date');
  return rows.map((r) => ({
    id: r.id, ficheId: r.fiche_id, text: r.text, authorName: r.author_name ?? 'Compte supprimé', createdAt: r.created_at,
    meetingId: r.meeting_id, meetingTitle: r.meeting_title, meetingDate: String(r.meeting_date).slice(0, 10),
  }));
}
