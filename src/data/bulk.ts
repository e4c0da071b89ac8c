import type { Knex } from 'knex';
import type { Actor } from '../domain/roles';
import { actorText, type AuditEntry, type AuditInput, auditRow, listAudit } from './audit';
import { chunks, insertedId, Refused } from './write';

/** What a bulk operation changed: the instances of a fiche's rollout, fiches, or steps. */
export type BulkKind = 'deploiement' | 'fiches' | 'actions';

export const BULK_KIND_LABELS: Record<BulkKind, string> = {
  deploiement: 'Déploiement par instance',
  fiches: 'Fiches',
  actions: 'Actions',
};

export interface BulkOperation {
  id: number;
  planId: number;
  userId: number | null;
  actor: string;
  /** Set when a commune's agent made it. */
  communeId: number | null;
  communeName: string | null;
  at: string;
  kind: BulkKind;
  summary: string;
  /** How many objects it changed (one audit entry each). */
  count: number;
}

/** One object's audit entry within a bulk operation: the actor and time are the operation's. */
export type BulkAuditEntry = Omit<AuditInput, 'actor' | 'at'>;

/** Rows per INSERT of audit entries: well under SQLite's limit of bound parameters. */
const AUDIT_CHUNK = 80;

/**
 * One bulk ("par lot") change, all or nothing: `work` runs in one transaction and records an audit entry per object it
 * changes with `audit`. At the end, when at least one object changed, the operation's row is written and every entry
 * is tagged with it (a few statements whatever the count); a single object's change is an ordinary audit entry. A `Refused` thrown by `work` rolls everything back and its
 * outcome is returned. The operation's id is `bulkId` in the result (null when nothing changed).
 */
export async function bulkWrite<T, R = never>(
  db: Knex,
  who: { actor: Actor; at: Date },
  op: { planId: number; kind: BulkKind; summary: (count: number) => string },
  work: (trx: Knex.Transaction, audit: (entry: BulkAuditEntry) => void) => Promise<T>,
): Promise<{ result: T; bulkId: number | null; count: number } | { refused: R }> {
  try {
    return await db.transaction(async (trx) => {
      const entries: BulkAuditEntry[] = [];
      const result = await work(trx, (entry) => { entries.push(entry); });
      if (!entries.length) return { result, bulkId: null, count: 0 };
      // a "lot" of one object is an ordinary change: its entry is written without an operation
      if (entries.length === 1) {
        await trx('audit_log').insert(auditRow({ ...entries[0]!, actor: who.actor, at: who.at }));
        return { result, bulkId: null, count: 1 };
      }
      const bulkId = insertedId(await trx('bulk_operations').insert({
        plan_id: op.planId, user_id: who.actor.id, actor: actorText(who.actor),
        commune_id: who.actor.role === 'commune' || who.actor.role === 'commune_admin' ? who.actor.communeId : null,
        at: who.at.toISOString(), kind: op.kind, summary: op.summary(entries.length), count: entries.length,
      }).returning('id'));
      for (const part of chunks(entries, AUDIT_CHUNK)) {
        await trx('audit_log').insert(part.map((e) => auditRow({ ...e, actor: who.actor, at: who.at }, bulkId)));
      }
      return { result, bulkId, count: entries.length };
    });
  } catch (err) {
    if (err instanceof Refused) return { refused: err.outcome as R };
    throw err;
  }
}

const operationOf = (r: Record<string, unknown>): BulkOperation => ({
  id: Number(r.id), planId: Number(r.plan_id), userId: r.user_id === null ? null : Number(r.user_id), actor: String(r.actor),
  communeId: r.commune_id === null || r.commune_id === undefined ? null : Number(r.commune_id),
  communeName: (r.commune_name as string | null | undefined) ?? null,
  at: String(r.at), kind: r.kind as BulkKind, summary: String(r.summary), count: Number(r.count),
});

/** A homologation's bulk operations, newest first; a commune's agent sees only its commune's. */
export async function listBulkOperations(db: Knex, planId: number, opts: { communeId: number | null; limit: number; offset?: number }): Promise<{ total: number; operations: BulkOperation[] }> {
  const base = () => {
    const q = db('bulk_operations').where('bulk_operations.plan_id', planId);
    if (opts.communeId !== null) q.where('bulk_operations.commune_id', opts.communeId);
    return q;
  };
  const [rows, counted] = await Promise.all([
    base().leftJoin('communes', 'communes.id', 'bulk_operations.commune_id').select('bulk_operations.*', 'communes.name as commune_name')
      .orderBy('bulk_operations.id', 'desc').limit(opts.limit).offset(opts.offset ?? 0),
    base().count({ n: '*' }),
  ]);
  return { total: Number(counted[0]?.n ?? 0), operations: rows.map(operationOf) };
}

/** One bulk operation of a homologation and its audit entries (one per object changed), or undefined. */
export async function getBulkOperation(db: Knex, planId: number, id: number): Promise<{ operation: BulkOperation; entries: AuditEntry[] } | undefined> {
  const row = await db('bulk_operations').leftJoin('communes', 'communes.id', 'bulk_operations.commune_id')
    .where({ 'bulk_operations.id': id, 'bulk_operations.plan_id': planId }).select('bulk_operations.*', 'communes.name as commune_name').first();
  if (!row) return undefined;
  const operation = operationOf(row);
  const entries = await listAudit(db, { bulkId: id, limit: Math.max(operation.count, 1) });
  return { operation, entries: entries.reverse() };
}
