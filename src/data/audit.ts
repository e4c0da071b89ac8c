import type { Knex } from 'knex';
import type { Actor } from '../domain/roles';

export type AuditAction =
  | 'create' | 'update' | 'delete' | 'note'
  // security events: kept for the retention period the admin sets, then purged
  | 'login' | 'logout' | 'login_failed' | 'freeze' | 'unfreeze' | 'password_change' | 'password_link' | 'totp_enrolled' | 'totp_reset'
  | 'role_change' | 'suspend' | 'anonymize' | 'session_expired';

export const SECURITY_ACTIONS: readonly AuditAction[] = [
  'login', 'logout', 'login_failed', 'freeze', 'unfreeze', 'password_change', 'password_link', 'totp_enrolled', 'totp_reset', 'role_change', 'suspend', 'anonymize', 'session_expired',
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

/** Writes one audit entry; call it inside the transaction that makes the change. */
export async function recordAudit(db: Knex, entry: AuditInput): Promise<void> {
  await db('audit_log').insert({
    at: entry.at.toISOString(),
    user_id: entry.actor.id,
    actor: entry.actor.email ? `${entry.actor.name} <${entry.actor.email}>` : entry.actor.name,
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId,
    summary: entry.summary,
    before: entry.before === undefined ? null : JSON.stringify(entry.before),
    after: entry.after === undefined ? null : JSON.stringify(entry.after),
  });
}

export async function listAudit(
  db: Knex,
  filter: { entityType?: string; entityId?: number; limit: number; offset?: number },
): Promise<AuditEntry[]> {
  const query = db('audit_log').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset ?? 0);
  if (filter.entityType) query.where('entity_type', filter.entityType);
  if (filter.entityId !== undefined) query.where('entity_id', filter.entityId);
  const rows = await query;
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    userId: r.user_id,
    actor: r.actor,
    action: r.action,
    entityType: r.entity_type,
    entityId: r.entity_id,
    summary: r.summary,
    before: r.before ? JSON.parse(r.before) : null,
    after: r.after ? JSON.parse(r.after) : null,
  }));
}
