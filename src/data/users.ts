import type { Knex } from 'knex';
import type { Actor, Role } from '../domain/roles';
import { sortFrench } from '../domain/words';
import { type AuditActor, recordAudit } from './audit';
import { isUniqueViolation } from './errors';
import { auditedWrite, insertedId } from './write';

export interface User extends Actor {
  active: boolean;
  communeName: string | null;
  createdAt: string;
  lastLoginAt: string | null;
  /** The team the user belongs to (receives its late-fiche alerts). */
  teamId: number | null;
  frozenUntil: string | null;
  failedLogins: number;
  totpEnabled: boolean;
  passwordChangedAt: string | null;
  anonymizedAt: string | null;
}

export interface UserInput {
  email: string;
  name: string;
  role: Role;
  communeId: number | null;
  active: boolean;
  teamId?: number | null;
}

const select = (db: Knex) =>
  db('users')
    .leftJoin('communes', 'communes.id', 'users.commune_id')
    .select('users.id', 'users.email', 'users.name', 'users.role', 'users.commune_id', 'users.active',
      'users.created_at', 'users.last_login_at', 'communes.name as commune_name', 'users.frozen_until', 'users.failed_logins',
      'users.totp_enabled_at', 'users.password_changed_at', 'users.anonymized_at',
      db.raw('(select min(tm.team_id) from team_members tm where tm.user_id = users.id) as team_id'))
    .orderBy('users.name');

function fromRow(r: Record<string, unknown>): User {
  return {
    id: Number(r.id),
    email: String(r.email),
    name: String(r.name),
    role: r.role as Role,
    communeId: r.commune_id === null ? null : Number(r.commune_id),
    communeName: (r.commune_name as string | null) ?? null,
    active: Boolean(r.active),
    createdAt: String(r.created_at),
    lastLoginAt: (r.last_login_at as string | null) ?? null,
    teamId: r.team_id === null || r.team_id === undefined ? null : Number(r.team_id),
    frozenUntil: (r.frozen_until as string | null) ?? null,
    failedLogins: Number(r.failed_logins ?? 0),
    totpEnabled: Boolean(r.totp_enabled_at),
    passwordChangedAt: (r.password_changed_at as string | null) ?? null,
    anonymizedAt: (r.anonymized_at as string | null) ?? null,
  };
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export async function listUsers(db: Knex, filter: { communeId?: number } = {}): Promise<User[]> {
  const q = select(db);
  if (filter.communeId !== undefined) q.where('users.commune_id', filter.communeId);
  // French order (Émilie among the E): the query's ORDER BY compares bytes
  return sortFrench((await q).map(fromRow), (u) => u.name);
}

export async function findUser(db: Knex, id: number): Promise<User | undefined> {
  const row = await select(db).where('users.id', id).first();
  return row ? fromRow(row) : undefined;
}

export async function findCredentials(db: Knex, email: string): Promise<(User & { passwordHash: string }) | undefined> {
  return credentialsWhere(db, 'users.email', normaliseEmail(email));
}

export async function findCredentialsById(db: Knex, id: number): Promise<(User & { passwordHash: string }) | undefined> {
  return credentialsWhere(db, 'users.id', id);
}

async function credentialsWhere(db: Knex, column: string, value: string | number): Promise<(User & { passwordHash: string }) | undefined> {
  const row = await select(db).select('users.password_hash').where(column, value).whereNull('users.anonymized_at').first();
  return row ? { ...fromRow(row), passwordHash: String(row.password_hash) } : undefined;
}

type Created = { ok: true; id: number } | { ok: false; reason: 'duplicate' };

export async function createUser(
  db: Knex, input: UserInput & { passwordHash: string }, actor: AuditActor, at: Date,
): Promise<Created> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const id = insertedId(await trx('users').insert({
      email: normaliseEmail(input.email), name: input.name, role: input.role, commune_id: input.communeId,
      active: input.active, password_hash: input.passwordHash, created_at: at.toISOString(),
      password_changed_at: input.passwordHash.startsWith('!') ? null : at.toISOString(),
    }).returning('id'));
    if (input.teamId) await trx('team_members').insert({ team_id: input.teamId, user_id: id });
    await audit({ action: 'create', entityType: 'user', entityId: id, summary: input.email, after: await findUser(trx, id) });
    return { ok: true as const, id };
  }, { unique: { ok: false as const, reason: 'duplicate' as const } });
}

export async function updateUser(
  db: Knex, id: number, input: UserInput & { passwordHash?: string }, actor: AuditActor, at: Date,
): Promise<{ ok: true } | { ok: false; reason: 'duplicate' | 'not_found' }> {
  try {
    return await db.transaction(async (trx) => {
      const before = await findUser(trx, id);
      if (!before) return { ok: false as const, reason: 'not_found' as const };
      await trx('users').where({ id }).update({
        email: normaliseEmail(input.email), name: input.name, role: input.role, commune_id: input.communeId, active: input.active,
        ...(input.passwordHash ? { password_hash: input.passwordHash } : {}),
      });
      if (input.teamId !== undefined) {
        await trx('team_members').where('user_id', id).delete();
        if (input.teamId) await trx('team_members').insert({ team_id: input.teamId, user_id: id });
      }
      const after = await findUser(trx, id);
      const summary = input.passwordHash ? `${input.email} (mot de passe changé)` : input.email;
      await recordAudit(trx, { actor, at, action: 'update', entityType: 'user', entityId: id, summary, before, after });
      // a change of rights is a security event of its own, kept and filtered as such
      if (before.role !== input.role) {
        await recordAudit(trx, { actor, at, action: 'role_change', entityType: 'user', entityId: id, summary: `${input.email} : ${before.role} → ${input.role}`, before: { role: before.role }, after: { role: input.role } });
      }
      return { ok: true as const };
    });
  } catch (err) {
    if (isUniqueViolation(err)) return { ok: false, reason: 'duplicate' };
    throw err;
  }
}

export async function recordLogin(db: Knex, id: number, at: Date): Promise<void> {
  await db('users').where({ id }).update({ last_login_at: at.toISOString() });
}

/**
 * The active administrators' ids. With `lock`, their rows stay locked until the transaction ends (PostgreSQL; SQLite's
 * BEGIN IMMEDIATE already serialises writers): two administrators demoting each other at once then see each other's
 * change, and the second finds itself the last one.
 */
export async function activeAdminIds(db: Knex, opts: { lock?: boolean } = {}): Promise<number[]> {
  const q = db('users').where({ role: 'admin', active: true }).whereNull('anonymized_at').orderBy('id').select('id');
  if (opts.lock) q.forUpdate();
  return (await q).map((r: { id: number }) => Number(r.id));
}

export async function setActive(db: Knex, id: number, active: boolean): Promise<void> {
  await db('users').where({ id }).update({ active });
}

/** Ends every session of the account: the token its sessions hold no longer matches. */
export async function endSessions(db: Knex, id: number): Promise<void> {
  await db('users').where({ id }).update({ session_token: null });
}

/** Who last suspended an account (its latest 'suspend' audit entry), if anyone did through a suspension. */
export async function lastSuspender(db: Knex, userId: number): Promise<User | undefined> {
  const row = await db('audit_log').where({ entity_type: 'user', entity_id: userId, action: 'suspend' }).orderBy('id', 'desc').first();
  return row?.user_id ? findUser(db, Number(row.user_id)) : undefined;
}
