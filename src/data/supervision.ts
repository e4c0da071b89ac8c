// The queries of the supervision dashboard: dormant accounts, frozen accounts, who works most, sign-in failures.
// Knex only, for SQLite and PostgreSQL alike; instants are ISO strings in text columns, so they compare as text.
import { subMonths } from 'date-fns/subMonths';
import type { Knex } from 'knex';
import type { Role } from '../domain/roles';
import { localDate } from '../domain/schedule';
import { type AuditEntry, SECURITY_ACTIONS } from './audit';

const DAY = 86_400_000;

/** An account as the supervision tables show it. */
export interface SupervisedUser {
  id: number;
  name: string;
  email: string;
  role: Role;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface FrozenUser extends SupervisedUser {
  frozenUntil: string;
  failedLogins: number;
  /** Frozen until an administrator unfreezes it (lockout of 0 minutes). */
  untilUnfrozen: boolean;
}

const userColumns = ['id', 'name', 'email', 'role', 'created_at', 'last_login_at'];

function toUser(r: Record<string, unknown>): SupervisedUser {
  return {
    id: Number(r.id), name: String(r.name), email: String(r.email), role: r.role as Role,
    createdAt: String(r.created_at), lastLoginAt: (r.last_login_at as string | null) ?? null,
  };
}

/** Active accounts nobody has signed in to for `months` months; an account never used counts from its creation. */
export async function inactiveUsers(db: Knex, now: Date, months: number): Promise<SupervisedUser[]> {
  const cutoff = subMonths(now, months).toISOString();
  const rows = await db('users').select(userColumns)
    .where('active', true).whereNull('anonymized_at')
    .where((q) => q.where('last_login_at', '<', cutoff).orWhere((q2) => q2.whereNull('last_login_at').where('created_at', '<', cutoff)))
    .orderByRaw('coalesce(last_login_at, created_at)').orderBy('id');
  return rows.map(toUser);
}

/** Accounts frozen at `now` (too many failed sign-ins), the longest frozen first. */
export async function frozenUsers(db: Knex, now: Date): Promise<FrozenUser[]> {
  const rows = await db('users').select([...userColumns, 'frozen_until', 'failed_logins'])
    .whereNotNull('frozen_until').where('frozen_until', '>', now.toISOString()).whereNull('anonymized_at')
    .orderBy('frozen_until', 'desc').orderBy('id');
  return rows.map((r: Record<string, unknown>) => ({
    ...toUser(r), frozenUntil: String(r.frozen_until), failedLogins: Number(r.failed_logins ?? 0), untilUnfrozen: String(r.frozen_until).startsWith('9999'),
  }));
}

/** Freezes and unfreezes since `since`, newest first. */
export async function freezeHistory(db: Knex, since: Date, limit = 200): Promise<AuditEntry[]> {
  const rows = await db('audit_log').whereIn('action', ['freeze', 'freeze_all', 'unfreeze']).where('at', '>=', since.toISOString())
    .orderBy('at', 'desc').orderBy('id', 'desc').limit(limit);
  return rows.map((r: Record<string, unknown>) => ({
    id: Number(r.id), at: String(r.at), userId: r.user_id === null ? null : Number(r.user_id), actor: String(r.actor),
    action: r.action as AuditEntry['action'], entityType: String(r.entity_type), entityId: r.entity_id === null ? null : Number(r.entity_id),
    summary: String(r.summary), before: null, after: null, bulkId: null,
  }));
}

/** The accounts frozen most often since `since`. */
export async function mostFrozen(db: Knex, since: Date, limit = 10): Promise<{ user: SupervisedUser; count: number }[]> {
  const counts = await db('audit_log').select('entity_id').count({ n: '*' })
    .where({ action: 'freeze', entity_type: 'user' }).whereNotNull('entity_id').where('at', '>=', since.toISOString())
    .groupBy('entity_id').orderBy([{ column: 'n', order: 'desc' }, { column: 'entity_id', order: 'asc' }]).limit(limit);
  return withUsers(db, (counts as unknown as { entity_id: number; n: number | string }[]).map((c) => ({ id: Number(c.entity_id), count: Number(c.n) })));
}

/** Who did most in the application since `since`: audit entries per user, security events (sign-ins…) left out. */
export async function mostActiveUsers(db: Knex, since: Date, limit = 20): Promise<{ user: SupervisedUser; count: number }[]> {
  const counts = await db('audit_log').select('user_id').count({ n: '*' })
    .whereNotNull('user_id').whereNotIn('action', SECURITY_ACTIONS).where('at', '>=', since.toISOString())
    .groupBy('user_id').orderBy([{ column: 'n', order: 'desc' }, { column: 'user_id', order: 'asc' }]).limit(limit);
  return withUsers(db, (counts as unknown as { user_id: number; n: number | string }[]).map((c) => ({ id: Number(c.user_id), count: Number(c.n) })));
}

async function withUsers(db: Knex, counts: { id: number; count: number }[]): Promise<{ user: SupervisedUser; count: number }[]> {
  if (!counts.length) return [];
  const users = new Map((await db('users').select(userColumns).whereIn('id', counts.map((c) => c.id))).map((r) => [Number(r.id), toUser(r)]));
  return counts.map((c) => ({
    // an account deleted since still has its entries
    user: users.get(c.id) ?? { id: c.id, name: `Compte n°${c.id} (supprimé)`, email: '', role: 'viewer', createdAt: '', lastLoginAt: null },
    count: c.count,
  }));
}

/**
 * Failed sign-ins per day over the `days` days ending on `now`'s day, in the time zone, oldest first.
 * Counted per UTC hour by the database (a brute-force attack may leave many rows), then per local day here.
 */
export async function loginFailuresByDay(db: Knex, now: Date, days: number, timeZone: string): Promise<{ day: string; count: number }[]> {
  const today = localDate(now, timeZone);
  const list = Array.from({ length: days }, (_, i) => addDays(today, i - days + 1));
  const start = localMidnight(list[0]!, timeZone);
  const rows = await db('audit_log').select(db.raw('substr(at, 1, 13) as hour')).count({ n: '*' })
    .where('action', 'login_failed').where('at', '>=', start.toISOString()).where('at', '<=', now.toISOString())
    .groupByRaw('substr(at, 1, 13)');
  const perDay = new Map(list.map((d) => [d, 0]));
  for (const r of rows as { hour: string; n: number | string }[]) {
    const day = localDate(new Date(`${r.hour}:00:00.000Z`), timeZone);
    if (perDay.has(day)) perDay.set(day, perDay.get(day)! + Number(r.n));
  }
  return list.map((day) => ({ day, count: perDay.get(day)! }));
}

/** "2026-03-16" plus n calendar days. */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The instant a calendar day ("2026-03-16") starts in a time zone (daylight saving time included). */
export function localMidnight(day: string, timeZone: string): Date {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d);
  let t = wall;
  for (let i = 0; i < 3; i++) t = wall - offset(new Date(t), timeZone);
  return new Date(t);
}

/** How far ahead of UTC the time zone's clock is at an instant, in milliseconds. */
function offset(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return local - Math.floor(at.getTime() / 1000) * 1000;
}

/** The start of a look-back window of `days` days. */
export const daysBefore = (now: Date, days: number) => new Date(now.getTime() - days * DAY);

/** How accounts sign in: with a password, through an identity provider (ProConnect), both, or neither yet. */
export interface SignInMethods {
  counts: { password: number; provider: number; both: number; none: number };
  /** The accounts linked to a provider, the latest used first (at most `limit`); `linkedTotal` counts them all. */
  linked: (SupervisedUser & { issuer: string; linkedAt: string; lastUsedAt: string | null; password: boolean })[];
  linkedTotal: number;
}

/** Active, not anonymised accounts by sign-in method, counted in SQL; the accounts linked to a provider listed. */
export async function signInMethods(db: Knex, limit = 100): Promise<SignInMethods> {
  const linked = db('user_identities').select(db.raw('1')).whereRaw('user_identities.user_id = users.id');
  const [counts, rows, total] = await Promise.all([
    db('users').where('active', true).whereNull('anonymized_at')
      .select(db.raw("case when password_hash like '!%' then 0 else 1 end as pwd"))
      .select(db.raw(`case when exists (${linked.toQuery()}) then 1 else 0 end as idp`))
      .count({ n: '*' }).groupBy('pwd', 'idp'),
    db('user_identities').join('users', 'users.id', 'user_identities.user_id').whereNull('users.anonymized_at')
      .select(userColumns.map((c) => `users.${c}`)).select('user_identities.issuer', 'user_identities.created_at as linked_at', 'user_identities.last_used_at', 'users.password_hash')
      .orderByRaw('coalesce(user_identities.last_used_at, user_identities.created_at) desc').limit(limit),
    db('user_identities').join('users', 'users.id', 'user_identities.user_id').whereNull('users.anonymized_at').count({ n: '*' }).first(),
  ]);
  const out = { password: 0, provider: 0, both: 0, none: 0 };
  for (const c of counts as { pwd: number | string; idp: number | string; n: number | string }[]) {
    const key = Number(c.pwd) ? (Number(c.idp) ? 'both' : 'password') : (Number(c.idp) ? 'provider' : 'none');
    out[key] += Number(c.n);
  }
  return {
    counts: out,
    linked: rows.map((r: Record<string, unknown>) => ({
      ...toUser(r), issuer: String(r.issuer), linkedAt: String(r.linked_at), lastUsedAt: (r.last_used_at as string | null) ?? null,
      password: !String(r.password_hash).startsWith('!'),
    })),
    linkedTotal: Number((total as { n: number | string } | undefined)?.n ?? 0),
  };
}
