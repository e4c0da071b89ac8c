import type { Knex } from 'knex';
import type { Actor } from '../domain/roles';

export type AuditAction =
  | 'create' | 'update' | 'delete' | 'note'
  // a spreadsheet imported into a homologation (its fiches and risks each have their own create or update too)
  | 'import'
  // security events: kept for the retention period the admin sets, then purged
  | 'login' | 'logout' | 'login_failed' | 'freeze' | 'unfreeze' | 'password_change' | 'password_link' | 'totp_enrolled' | 'totp_reset'
  | 'role_change' | 'suspend' | 'anonymize' | 'session_expired' | 'duplicate_account' | 'freeze_all'
  // sign-in through an identity provider: an identity linked to an account, an agent's access request and its decision
  | 'identity_link' | 'access_request';

export const SECURITY_ACTIONS: readonly AuditAction[] = [
  'login', 'logout', 'login_failed', 'freeze', 'unfreeze', 'password_change', 'password_link', 'totp_enrolled', 'totp_reset', 'role_change', 'suspend', 'anonymize', 'session_expired', 'duplicate_account', 'freeze_all',
  'identity_link', 'access_request',
];

export interface AuditEntry {
  id: number;
  at: string;
  userId: number | null;
  actor: string;
  action: AuditAction;
  entityType: string;
  entityId: number | null;
  summary: string;
  before: unknown;
  after: unknown;
  /** The bulk operation this entry is part of, if any. */
  bulkId: number | null;
}

export type AuditActor = Pick<Actor, 'id' | 'name' | 'email'> | { id: null; name: string; email?: string };

export interface AuditInput {
  actor: AuditActor;
  action: AuditAction;
  entityType: string;
  entityId: number | null;
  summary: string;
  before?: unknown;
  after?: unknown;
  at: Date;
}

/** How an actor is written in the journal: "Name <address>". */
export const actorText = (actor: AuditActor): string => (actor.email ? `${actor.name} <${actor.email}>` : actor.name);

/** The row of one audit entry; `bulkId` ties it to the bulk operation it is part of. */
export function auditRow(entry: AuditInput, bulkId: number | null = null) {
  return {
    at: entry.at.toISOString(),
    user_id: entry.actor.id,
    actor: actorText(entry.actor),
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId,
    summary: entry.summary,
    before: entry.before === undefined ? null : JSON.stringify(entry.before),
    after: entry.after === undefined ? null : JSON.stringify(entry.after),
    ...(bulkId !== null ? { bulk_id: bulkId } : {}),
  };
}

/** Writes one audit entry; call it inside the transaction that makes the change. */
export async function recordAudit(db: Knex, entry: AuditInput): Promise<void> {
  await db('audit_log').insert(auditRow(entry));
}

const entryOf = (r: Record<string, unknown>): AuditEntry => ({
  id: Number(r.id),
  at: String(r.at),
  userId: (r.user_id as number | null) ?? null,
  actor: String(r.actor),
  action: r.action as AuditAction,
  entityType: String(r.entity_type),
  entityId: (r.entity_id as number | null) ?? null,
  summary: String(r.summary),
  before: r.before ? JSON.parse(String(r.before)) : null,
  after: r.after ? JSON.parse(String(r.after)) : null,
  bulkId: r.bulk_id === null || r.bulk_id === undefined ? null : Number(r.bulk_id),
});

export async function listAudit(
  db: Knex,
  filter: { entityType?: string; entityId?: number; bulkId?: number; limit: number; offset?: number },
): Promise<AuditEntry[]> {
  const query = db('audit_log').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset ?? 0);
  if (filter.bulkId !== undefined) query.where('bulk_id', filter.bulkId);
  if (filter.entityType) query.where('entity_type', filter.entityType);
  if (filter.entityId !== undefined) query.where('entity_id', filter.entityId);
  const rows = await query;
  return rows.map(entryOf);
}

/** What the journal can be narrowed to; every criterion is optional. */
export interface AuditFilter {
  action?: AuditAction;
  /** A piece of the author's name or address, any case. */
  actor?: string;
  entityType?: string;
  /** Entries at or after this instant. */
  from?: Date;
  /** Entries strictly before this instant. */
  before?: Date;
}

/** The journal, narrowed by a filter, newest first; without a limit, every matching entry (the CSV export). */
export async function searchAudit(db: Knex, filter: AuditFilter & { limit?: number; offset?: number }): Promise<AuditEntry[]> {
  // in the order of recording, as listAudit: the demo plan records past events after the fact
  const query = db('audit_log').orderBy('id', 'desc');
  if (filter.action) query.where('action', filter.action);
  if (filter.entityType) query.where('entity_type', filter.entityType);
  if (filter.actor) {
    // LIKE's wildcards typed by the user are taken literally
    const pattern = `%${filter.actor.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query.whereRaw("lower(actor) like ? escape '\\'", [pattern]);
  }
  if (filter.from) query.where('at', '>=', filter.from.toISOString());
  if (filter.before) query.where('at', '<', filter.before.toISOString());
  if (filter.limit !== undefined) query.limit(filter.limit).offset(filter.offset ?? 0);
  const rows = await query;
  return rows.map(entryOf);
}

/** The kinds of object the journal mentions, for the filter's list. */
export async function auditEntityTypes(db: Knex): Promise<string[]> {
  const rows = await db('audit_log').distinct('entity_type').orderBy('entity_type');
  return rows.map((r: { entity_type: string }) => r.entity_type);
}

/**
 * Retention: deletes the security events (sign-ins, failures, freezes…) older than `before` and returns how many.
 * The business history (create, update, delete, note) is never purged: the committee's "since the last meeting" is rebuilt from it.
 */
export async function purgeSecurityEvents(db: Knex, before: Date): Promise<number> {
  // the access requests decided before then go too (an agent's name and address, kept no longer than the events about them)
  await db('access_requests').whereNot('status', 'pending').where('decided_at', '<', before.toISOString()).delete();
  return db('audit_log').whereIn('action', SECURITY_ACTIONS).where('at', '<', before.toISOString()).delete();
}
