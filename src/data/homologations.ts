import type { Knex } from 'knex';
import {
  DEFAULT_REMINDER_MONTHS, type DecisionFacts, type HomologationState, type MemberRole, type Outcome, parseReminderMonths, stateOf,
} from '../domain/homologation';
import type { Plan } from './plans';
import { reads } from './reads';

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
  previousId: number | null;
  archivedAt: string | null;
  archivedReason: 'remplacee' | 'manuel' | null;
  decision: Decision | null;
  ficheCount: number;
  services: { id: number; name: string }[];
  nextMeeting: { id: number; title: string; startsAt: string } | null;
  /** What the readiness index and the late count are computed from. */
  fiches: { id: number; status: string; targetDate: string | null; conditionOf: number | null; steps: { status: string }[]; strongEffects: number }[];
}

/**
 * Every homologation of the organisation (or those touching a commune's instances), with what the home page shows:
 * a fixed number of statements whatever the number of homologations and fiches.
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
  const ficheIds = () => db('fiches').whereIn('plan_id', planIds()).select('id');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Row = Record<string, any>;
  const [plans, signatures, services, meetings, fiches, steps, effects] = await reads<[Row[], Row[], Row[], Row[], Row[], Row[], Row[]]>(db,
    () => db('plans').whereIn('id', planIds()).select('*').orderBy('id'),
    () => db('signatures').whereIn('plan_id', planIds()).select('*').orderBy([{ column: 'decided_on', order: 'desc' }, { column: 'id', order: 'desc' }]),
    () => db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').join('services', 'services.id', 'instances.service_id')
      .whereIn('plan_instances.plan_id', planIds()).distinct('plan_instances.plan_id', 'services.id', 'services.name', 'services.position')
      .orderBy(['services.position', 'services.name']),
    () => db('meetings').whereIn('plan_id', planIds()).whereNull('held_at').where('starts_at', '>=', opts.nowLocal)
      .select('id', 'plan_id', 'title', 'starts_at').orderBy('starts_at'),
    () => db('fiches').whereIn('plan_id', planIds()).select('id', 'plan_id', 'status', 'target_date', 'condition_of').orderBy('number'),
    () => db('steps').whereIn('fiche_id', ficheIds()).select('fiche_id', 'status'),
    () => db('side_effects').whereIn('fiche_id', ficheIds()).where('level', 'fort').select('fiche_id'),
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
  const meetingsBy = group(meetings, (r) => Number(r.plan_id));
  const fichesBy = group(fiches, (r) => Number(r.plan_id));
  const stepsBy = group(steps, (r) => Number(r.fiche_id));
  const effectsBy = group(effects, (r) => Number(r.fiche_id));
  return plans.map((p) => {
    const id = Number(p.id);
    const latest = sigBy.get(id)?.[0];
    const next = meetingsBy.get(id)?.[0];
    const own = fichesBy.get(id) ?? [];
    return {
      id, title: String(p.title), previousId: (p.previous_id ?? null) === null ? null : Number(p.previous_id),
      archivedAt: p.archived_at ?? null, archivedReason: p.archived_reason ?? null,
      decision: latest ? decisionOf(latest) : null,
      ficheCount: own.length,
      services: (servicesBy.get(id) ?? []).map((s) => ({ id: Number(s.id), name: String(s.name) })),
      nextMeeting: next ? { id: Number(next.id), title: String(next.title), startsAt: String(next.starts_at) } : null,
      fiches: own.map((f) => ({
        id: Number(f.id), status: String(f.status), targetDate: f.target_date ?? null, conditionOf: (f.condition_of ?? null) === null ? null : Number(f.condition_of),
        steps: (stepsBy.get(Number(f.id)) ?? []).map((s) => ({ status: String(s.status) })), strongEffects: (effectsBy.get(Number(f.id)) ?? []).length,
      })),
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
