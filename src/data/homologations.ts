import type { Knex } from 'knex';
import {
  DEFAULT_REMINDER_MONTHS, type DecisionFacts, type HomologationState, MEMBER_ROLE_LABELS, type MemberRole, type Outcome, parseReminderMonths, stateOf,
} from '../domain/homologation';
import type { Role } from '../domain/roles';
import type { AuditActor } from './audit';
import { visibleTo } from './fiches';
import type { Plan } from './plans';
import { reads } from './reads';
import { auditedWrite, insertedId } from './write';

/** The decision the authority took at a signature meeting. */
export interface Decision extends DecisionFacts {
  id: number;
  meetingId: number | null;
  authority: string;
  authorityEmail: string;
  durationMonths: number | null;
}

export interface Homologation extends Plan {
  description: string;
  previousId: number | null;
  previousTitle: string | null;
  /** Its renewal, when one was prepared. */
  nextId: number | null;
  nextTitle: string | null;
  createdAt: string | null;
  archivedAt: string | null;
  archivedReason: 'remplacee' | 'manuel' | null;
  /** The latest decision, if any. */
  decision: Decision | null;
  ficheCount: number;
  /** A step marked done must come with a document or a justification (evidence). */
  evidenceRequiredForDone: boolean;
}

export function decisionOf(r: Record<string, unknown>): Decision {
  return {
    id: Number(r.id), meetingId: (r.meeting_id ?? null) === null ? null : Number(r.meeting_id), outcome: String(r.outcome ?? (r.signed ? 'homologuee' : 'refusee')) as Outcome,
    decidedOn: String(r.decided_on), endsOn: (r.ends_on as string | null) ?? null, authority: String(r.authority ?? ''),
    authorityEmail: String(r.authority_email ?? ''), durationMonths: (r.duration_months ?? null) === null ? null : Number(r.duration_months),
  };
}

function planOf(r: Record<string, unknown>): Plan {
  return { id: Number(r.id), title: String(r.title), organisation: String(r.organisation), reminder: String(r.reminder), isDemo: Boolean(r.is_demo) };
}

/** One homologation with its latest decision, its renewal links and its fiche count: four reads whatever its size. */
export async function getHomologation(db: Knex, id: number): Promise<Homologation | undefined> {
  const [row, decision, next, count] = await reads(db,
    () => db('plans').leftJoin('plans as previous', 'previous.id', 'plans.previous_id').where('plans.id', id)
      .select('plans.*', 'previous.title as previous_title').first(),
    () => db('signatures').where('plan_id', id).orderBy([{ column: 'decided_on', order: 'desc' }, { column: 'id', order: 'desc' }]).first(),
    () => db('plans').where('previous_id', id).select('id', 'title').first(),
    () => db('fiches').where('plan_id', id).count({ n: '*' }).first(),
  );
  if (!row) return undefined;
  return {
    ...planOf(row),
    description: String(row.description ?? ''),
    previousId: (row.previous_id ?? null) === null ? null : Number(row.previous_id),
    previousTitle: row.previous_title ?? null,
    nextId: next ? Number(next.id) : null,
    nextTitle: next ? String(next.title) : null,
    createdAt: row.created_at ?? null,
    archivedAt: row.archived_at ?? null,
    archivedReason: row.archived_reason ?? null,
    decision: decision ? decisionOf(decision) : null,
    ficheCount: Number(count?.n ?? 0),
    evidenceRequiredForDone: Boolean(row.evidence_required_for_done),
  };
}

/** The reminder thresholds the admin set (months before the end date). */
export async function reminderMonths(db: Knex): Promise<number[]> {
  const row = await db('mail_settings').where('id', 1).select('expiry_reminder_months').first();
  return parseReminderMonths(String(row?.expiry_reminder_months ?? '')) ?? [...DEFAULT_REMINDER_MONTHS];
}

export function homologationState(h: Pick<Homologation, 'archivedAt' | 'ficheCount' | 'decision'>, today: string, months: readonly number[]): HomologationState {
  return stateOf({ archivedAt: h.archivedAt, ficheCount: h.ficheCount, decision: h.decision }, today, months);
}

/** The role a user was given in a homologation, if listed as a member. */
export async function memberRole(db: Knex, planId: number, userId: number): Promise<MemberRole | null> {
  const row = await db('plan_members').where({ plan_id: planId, user_id: userId }).select('role').first();
  return row ? (row.role as MemberRole) : null;
}

/** Does the homologation cover one of the commune's instances. */
export async function touchesCommune(db: Knex, planId: number, communeId: number): Promise<boolean> {
  const row = await db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id')
    .where('plan_instances.plan_id', planId).where('instances.commune_id', communeId).select(db.raw('1 as x')).first();
  return Boolean(row);
}

/** The ids of the instances the homologation covers. */
export async function planInstanceIds(db: Knex, planId: number): Promise<number[]> {
  return (await db('plan_instances').where('plan_id', planId).select('instance_id')).map((r) => Number(r.instance_id));
}

/** A line of the home page: one homologation and what the organisation follows of it. */
export interface HomologationSummary {
  id: number;
  title: string;
  organisation: string;
  previousId: number | null;
  archivedAt: string | null;
  archivedReason: 'remplacee' | 'manuel' | null;
  decision: Decision | null;
  /** All its fiches (its state depends on them), whoever reads. */
  ficheCount: number;
  services: { id: number; name: string }[];
  /** The next meeting the reader may see. */
  nextMeeting: { id: number; title: string; startsAt: string } | null;
  /** What the readiness index and the late count are computed from: the fiches the reader may see, counted. */
  progress: PlanProgress;
}

/** A homologation's fiches (those the reader may see) counted as the readiness index and the late count need them. */
export interface PlanProgress {
  fiches: number;
  done: number;
  /** Not done and past their target date, on the day the list was asked. */
  late: number;
  /** Of the late ones, those that are conditions of a decision. */
  lateConditions: number;
  steps: number;
  stepsDone: number;
  /** Strong side effects, and those on fiches not done. */
  strong: number;
  strongOpen: number;
}

/**
 * Every homologation of the organisation (or those touching a commune's instances), with what the home page shows:
 * a fixed number of statements whatever the number of homologations and fiches. A commune's staff get the fiches
 * and meetings they may see (as on each homologation's pages); the fiche count behind the state is all of them.
 */
export async function listHomologations(db: Knex, opts: { communeId: number | null; nowLocal: string }): Promise<HomologationSummary[]> {
  const planIds = () => {
    const q = db('plans').select('plans.id');
    if (opts.communeId !== null) {
      q.whereExists(db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').select(db.raw('1'))
        .whereRaw('plan_instances.plan_id = plans.id').where('instances.commune_id', opts.communeId));
    }
    return q;
  };
  const visibleFiches = () => visibleTo(db('fiches').whereIn('fiches.plan_id', planIds()), db, opts.communeId);
  const ficheIds = () => visibleFiches().select('fiches.id');
  const meetings = () => {
    const q = db('meetings').whereIn('meetings.plan_id', planIds()).whereNull('meetings.held_at').where('meetings.starts_at', '>=', opts.nowLocal);
    if (opts.communeId !== null) {
      // as listMeetings: a meeting on the whole plan when one of its fiches is visible, else one naming a visible fiche
      q.where((w) => w.where((all) => all.where('meetings.covers_all', true).whereExists(visibleFiches().select(db.raw('1')).whereRaw('fiches.plan_id = meetings.plan_id')))
        .orWhereExists(db('meeting_fiches').select(db.raw('1')).whereRaw('meeting_fiches.meeting_id = meetings.id').whereIn('meeting_fiches.fiche_id', ficheIds())));
    }
    return q.select('meetings.id', 'meetings.plan_id', 'meetings.title', 'meetings.starts_at').orderBy([{ column: 'meetings.starts_at' }, { column: 'meetings.id' }]);
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Row = Record<string, any>;
  const today = opts.nowLocal.slice(0, 10);
  const notDone = "fiches.status <> 'fait'";
  const [plans, signatures, services, upcoming, fiches, counts, steps, effects] = await reads<[Row[], Row[], Row[], Row[], Row[], Row[], Row[], Row[]]>(db,
    () => db('plans').whereIn('id', planIds()).select('*').orderBy('id'),
    () => db('signatures').whereIn('plan_id', planIds()).select('*').orderBy([{ column: 'decided_on', order: 'desc' }, { column: 'id', order: 'desc' }]),
    () => db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').join('services', 'services.id', 'instances.service_id')
      .whereIn('plan_instances.plan_id', planIds()).distinct('plan_instances.plan_id', 'services.id', 'services.name', 'services.position')
      .orderBy(['services.position', 'services.name']),
    meetings,
    // counted here, not read fiche by fiche: 200 homologations of 50 fiches are 10,000 fiches and 50,000 steps
    () => visibleFiches().groupBy('fiches.plan_id').select('fiches.plan_id', db.raw('count(*) as n'),
      db.raw("sum(case when fiches.status = 'fait' then 1 else 0 end) as done"),
      db.raw(`sum(case when ${notDone} and fiches.target_date is not null and fiches.target_date < ? then 1 else 0 end) as late`, [today]),
      db.raw(`sum(case when ${notDone} and fiches.target_date is not null and fiches.target_date < ? and fiches.condition_of is not null then 1 else 0 end) as late_conditions`, [today])),
    () => (opts.communeId === null ? Promise.resolve([]) : db('fiches').whereIn('plan_id', planIds()).groupBy('plan_id').select('plan_id').count({ n: '*' })),
    () => visibleTo(db('steps').join('fiches', 'fiches.id', 'steps.fiche_id').whereIn('fiches.plan_id', planIds()), db, opts.communeId).groupBy('fiches.plan_id')
      .select('fiches.plan_id', db.raw('count(*) as n'), db.raw("sum(case when steps.status = 'fait' then 1 else 0 end) as done")),
    () => visibleTo(db('side_effects').join('fiches', 'fiches.id', 'side_effects.fiche_id').whereIn('fiches.plan_id', planIds()), db, opts.communeId)
      .where('side_effects.level', 'fort')
      .groupBy('fiches.plan_id').select('fiches.plan_id', db.raw('count(*) as n'), db.raw(`sum(case when ${notDone} then 1 else 0 end) as open`)),
  );
  const group = <T>(rows: T[], key: (r: T) => number) => {
    const map = new Map<number, T[]>();
    for (const r of rows) {
      const k = key(r);
      const list = map.get(k);
      if (list) list.push(r); else map.set(k, [r]);
    }
    return map;
  };
  const sigBy = group(signatures, (r) => Number(r.plan_id));
  const servicesBy = group(services, (r) => Number(r.plan_id));
  const meetingsBy = group(upcoming, (r) => Number(r.plan_id));
  const byPlan = (rows: Row[]) => new Map(rows.map((r) => [Number(r.plan_id), r]));
  const fichesBy = byPlan(fiches);
  const countBy = new Map(counts.map((r) => [Number(r.plan_id), Number(r.n)]));
  const stepsBy = byPlan(steps);
  const effectsBy = byPlan(effects);
  return plans.map((p) => {
    const id = Number(p.id);
    const latest = sigBy.get(id)?.[0];
    const next = meetingsBy.get(id)?.[0];
    const own = fichesBy.get(id);
    const ownSteps = stepsBy.get(id);
    const ownEffects = effectsBy.get(id);
    const progress: PlanProgress = {
      fiches: Number(own?.n ?? 0), done: Number(own?.done ?? 0), late: Number(own?.late ?? 0), lateConditions: Number(own?.late_conditions ?? 0),
      steps: Number(ownSteps?.n ?? 0), stepsDone: Number(ownSteps?.done ?? 0), strong: Number(ownEffects?.n ?? 0), strongOpen: Number(ownEffects?.open ?? 0),
    };
    return {
      id, title: String(p.title), organisation: String(p.organisation), previousId: (p.previous_id ?? null) === null ? null : Number(p.previous_id),
      archivedAt: p.archived_at ?? null, archivedReason: p.archived_reason ?? null,
      decision: latest ? decisionOf(latest) : null,
      ficheCount: opts.communeId === null ? progress.fiches : countBy.get(id) ?? 0,
      services: (servicesBy.get(id) ?? []).map((s) => ({ id: Number(s.id), name: String(s.name) })),
      nextMeeting: next ? { id: Number(next.id), title: String(next.title), startsAt: String(next.starts_at) } : null,
      progress,
    };
  });
}

/** The homologation an old link (/plan) leads to: the latest one not archived, else the latest. */
export async function defaultHomologationId(db: Knex, communeId: number | null): Promise<number | null> {
  const q = db('plans').select('id').orderBy([{ column: 'archived_at', order: 'asc', nulls: 'first' }, { column: 'id', order: 'desc' }]);
  if (communeId !== null) {
    q.whereExists(db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').select(db.raw('1'))
      .whereRaw('plan_instances.plan_id = plans.id').where('instances.commune_id', communeId));
  }
  const row = await q.first();
  return row ? Number(row.id) : null;
}

/** The homologation a fiche or a meeting belongs to (old links /fiches/:id, /seances/:id). */
export async function planOfObject(db: Knex, table: 'fiches' | 'meetings', id: number): Promise<number | null> {
  const row = await db(table).where('id', id).select('plan_id').first();
  return row ? Number(row.plan_id) : null;
}

// ---------------------------------------------------------------- creation, settings and members

export interface HomologationInput { title: string; organisation: string; description: string; instanceIds: number[] }
export interface HomologationSettingsInput extends HomologationInput { reminder: string }

/** The organisation named on the latest homologation: what a new one is prefilled with. */
export async function latestOrganisation(db: Knex): Promise<string> {
  const identity = await db('organisation_identity').where({ id: 1 }).select('name').first();
  if (identity?.name) return String(identity.name);
  const row = await db('plans').orderBy('id', 'desc').select('organisation').first();
  return row ? String(row.organisation) : '';
}

/** Inserts rows by chunks (SQLite caps the parameters of one statement). */
async function insertPerimeter(trx: Knex.Transaction, planId: number, instanceIds: readonly number[]): Promise<void> {
  for (let i = 0; i < instanceIds.length; i += 200) {
    await trx('plan_instances').insert(instanceIds.slice(i, i + 200).map((instanceId) => ({ plan_id: planId, instance_id: instanceId })));
  }
}

export type CreateHomologationResult = { ok: true; id: number } | { ok: false; reason: 'unknown_instance' };

/** A new homologation with its perimeter, audited, in one transaction. An instance deleted meanwhile refuses it all. */
export async function createHomologation(db: Knex, input: HomologationInput, actor: AuditActor, at: Date): Promise<CreateHomologationResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const id = insertedId(await trx('plans').insert({
      title: input.title, organisation: input.organisation, description: input.description, reminder: '', is_demo: false, created_at: at.toISOString(),
    }).returning('id'));
    const instanceIds = [...new Set(input.instanceIds)].sort((a, b) => a - b);
    await insertPerimeter(trx, id, instanceIds);
    await audit({
      action: 'create', entityType: 'plan', entityId: id, summary: input.title,
      after: { title: input.title, organisation: input.organisation, description: input.description, instanceIds },
    });
    return { ok: true as const, id };
  }, { foreignKey: { ok: false, reason: 'unknown_instance' } as const });
}

/** A fiche whose own scope names instances the settings would take out of the perimeter. */
export interface FicheUsingInstances { id: number; number: number; title: string; instances: string[] }

export type SettingsResult =
  | { ok: true }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'unknown_instance' }
  | { ok: false; reason: 'in_use'; fiches: FicheUsingInstances[] };

/** The fiches of a homologation whose own scope names one of these instances (a fiche on the whole perimeter names none). */
async function fichesUsing(db: Knex, planId: number, instanceIds: readonly number[]): Promise<FicheUsingInstances[]> {
  if (!instanceIds.length) return [];
  const rows = await db('fiche_instances').join('fiches', 'fiches.id', 'fiche_instances.fiche_id').join('instances', 'instances.id', 'fiche_instances.instance_id')
    .where('fiches.plan_id', planId).where('fiches.scope_all', false).whereIn('fiche_instances.instance_id', instanceIds)
    .select('fiches.id', 'fiches.number', 'fiches.title', 'instances.name as instance_name').orderBy(['fiches.number', 'instances.name']);
  const byFiche = new Map<number, FicheUsingInstances>();
  for (const r of rows) {
    const id = Number(r.id);
    const fiche = byFiche.get(id) ?? { id, number: Number(r.number), title: String(r.title), instances: [] };
    fiche.instances.push(String(r.instance_name));
    byFiche.set(id, fiche);
  }
  return [...byFiche.values()];
}

/** For each instance of the perimeter that fiches name in their own scope, those fiches' numbers. */
export async function instancesInFicheScopes(db: Knex, planId: number): Promise<Map<number, number[]>> {
  const rows = await db('fiche_instances').join('fiches', 'fiches.id', 'fiche_instances.fiche_id')
    .where('fiches.plan_id', planId).where('fiches.scope_all', false).select('fiche_instances.instance_id', 'fiches.number').orderBy('fiches.number');
  const map = new Map<number, number[]>();
  for (const r of rows) {
    const id = Number(r.instance_id);
    map.set(id, [...(map.get(id) ?? []), Number(r.number)]);
  }
  return map;
}

/**
 * Saves a homologation's settings and perimeter. Its row is taken first (a no-op update: a row lock on PostgreSQL,
 * the write lock on SQLite), so two saves run one after the other and each audit entry's "before" is what it replaced.
 * An instance that a fiche of this homologation names in its own scope stays in the perimeter: the save is refused
 * with those fiches, and nothing changes.
 */
export async function updateHomologationSettings(db: Knex, id: number, input: HomologationSettingsInput, actor: AuditActor, at: Date): Promise<SettingsResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<SettingsResult> => {
    const locked = await trx('plans').where({ id }).update({ title: trx.raw('??', ['title']) });
    if (!locked) return { ok: false, reason: 'not_found' };
    const row = await trx('plans').where({ id }).select('title', 'organisation', 'description', 'reminder').first();
    const current = (await trx('plan_instances').where('plan_id', id).select('instance_id')).map((r) => Number(r.instance_id)).sort((a, b) => a - b);
    const wanted = [...new Set(input.instanceIds)].sort((a, b) => a - b);
    const removed = current.filter((i) => !wanted.includes(i));
    const added = wanted.filter((i) => !current.includes(i));
    const inUse = await fichesUsing(trx, id, removed);
    if (inUse.length) return { ok: false, reason: 'in_use', fiches: inUse };
    const fields = { title: input.title, organisation: input.organisation, description: input.description, reminder: input.reminder };
    await trx('plans').where({ id }).update(fields);
    for (let i = 0; i < removed.length; i += 200) await trx('plan_instances').where('plan_id', id).whereIn('instance_id', removed.slice(i, i + 200)).delete();
    await insertPerimeter(trx, id, added);
    await audit({
      action: 'update', entityType: 'plan', entityId: id, summary: input.title,
      before: { title: row.title, organisation: row.organisation, description: row.description ?? '', reminder: row.reminder, instanceIds: current },
      after: { ...fields, instanceIds: wanted },
    });
    return { ok: true };
  }, { foreignKey: { ok: false, reason: 'unknown_instance' } as const });
}

/** A person listed in a homologation, with the role given there. */
export interface Member { userId: number; name: string; email: string; globalRole: Role; role: MemberRole; active: boolean }

export async function listMembers(db: Knex, planId: number): Promise<Member[]> {
  const rows = await db('plan_members').join('users', 'users.id', 'plan_members.user_id').where('plan_members.plan_id', planId)
    .select('users.id', 'users.name', 'users.email', 'users.role as global_role', 'users.active', 'plan_members.role').orderBy(['users.name', 'users.id']);
  return rows.map((r) => ({
    userId: Number(r.id), name: String(r.name), email: String(r.email), globalRole: r.global_role as Role, role: r.role as MemberRole, active: Boolean(r.active),
  }));
}

/** Who may be added: active accounts of the organisation's staff (neither administrators nor commune staff), not yet listed. */
export async function memberCandidates(db: Knex, planId: number): Promise<{ id: number; name: string; email: string; role: Role }[]> {
  const rows = await eligibleUsers(db).whereNotIn('users.id', db('plan_members').where('plan_id', planId).select('user_id'))
    .select('users.id', 'users.name', 'users.email', 'users.role').orderBy(['users.name', 'users.id']);
  return rows.map((r) => ({ id: Number(r.id), name: String(r.name), email: String(r.email), role: r.role as Role }));
}

const eligibleUsers = (db: Knex) => db('users').where('users.active', true).whereNull('users.anonymized_at').whereIn('users.role', ['editor', 'viewer']);

export type MemberResult = { ok: true } | { ok: false; reason: 'duplicate' | 'not_eligible' | 'not_found' };

const memberSummary = (user: { name: string; email: string }, role: MemberRole, planTitle: string) =>
  `${user.name} <${user.email}> : ${MEMBER_ROLE_LABELS[role]} — ${planTitle}`;

/** Lists a user in a homologation. The primary key (plan, user) makes a second listing impossible: 'duplicate'. */
export async function addMember(db: Knex, planId: number, userId: number, role: MemberRole, actor: AuditActor, at: Date): Promise<MemberResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<MemberResult> => {
    const [user, plan] = await reads(trx,
      () => eligibleUsers(trx).where('users.id', userId).select('users.name', 'users.email').first(),
      () => trx('plans').where({ id: planId }).select('title').first(),
    );
    if (!plan) return { ok: false, reason: 'not_found' };
    if (!user) return { ok: false, reason: 'not_eligible' };
    await trx('plan_members').insert({ plan_id: planId, user_id: userId, role });
    await audit({
      action: 'create', entityType: 'plan_member', entityId: planId, summary: memberSummary(user, role, String(plan.title)),
      after: { planId, userId, role },
    });
    return { ok: true };
  }, { unique: { ok: false, reason: 'duplicate' } as const, foreignKey: { ok: false, reason: 'not_eligible' } as const });
}

/**
 * Takes a member's row before reading it (a no-op update: the row lock), so the "before" of the audit is the role
 * the change replaces; with the member's name and the homologation's title. Undefined when not (or no longer) a member.
 */
async function takeMember(trx: Knex.Transaction, planId: number, userId: number) {
  const taken = await trx('plan_members').where({ plan_id: planId, user_id: userId }).update({ role: trx.raw('??', ['role']) });
  if (!taken) return undefined;
  const [before, user, plan] = await reads(trx,
    () => trx('plan_members').where({ plan_id: planId, user_id: userId }).select('role').first(),
    () => trx('users').where({ id: userId }).select('name', 'email').first(),
    () => trx('plans').where({ id: planId }).select('title').first(),
  );
  return { before, user, plan };
}

/** Changes a member's role; the update names the row, so a member removed meanwhile is 'not_found'. */
export async function setMemberRole(db: Knex, planId: number, userId: number, role: MemberRole, actor: AuditActor, at: Date): Promise<MemberResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<MemberResult> => {
    const taken = await takeMember(trx, planId, userId);
    if (!taken) return { ok: false, reason: 'not_found' };
    const { before, user, plan } = taken;
    await trx('plan_members').where({ plan_id: planId, user_id: userId }).update({ role });
    await audit({
      action: 'update', entityType: 'plan_member', entityId: planId, summary: memberSummary(user, role, String(plan.title)),
      before: { planId, userId, role: before.role }, after: { planId, userId, role },
    });
    return { ok: true };
  });
}

export async function removeMember(db: Knex, planId: number, userId: number, actor: AuditActor, at: Date): Promise<MemberResult> {
  return auditedWrite(db, { actor, at }, async (trx, audit): Promise<MemberResult> => {
    const taken = await takeMember(trx, planId, userId);
    if (!taken) return { ok: false, reason: 'not_found' };
    const { before, user, plan } = taken;
    await trx('plan_members').where({ plan_id: planId, user_id: userId }).delete();
    await audit({
      action: 'delete', entityType: 'plan_member', entityId: planId,
      summary: `${memberSummary(user, before.role as MemberRole, String(plan.title))} (retiré)`, before: { planId, userId, role: before.role },
    });
    return { ok: true };
  });
}
