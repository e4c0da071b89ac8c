import type { Knex } from 'knex';
import { type AuditActor, type AuditInput, recordAudit } from './audit';
import { isForeignKeyViolation, isUniqueViolation } from './errors';

/** The id of a row `insert(...).returning('id')` gave back: an object on PostgreSQL and recent SQLite, else the value. */
export function insertedId(rows: unknown[]): number {
  const row = rows[0];
  return Number(typeof row === 'object' && row !== null ? (row as { id: unknown }).id : row);
}

/** Records one audit entry of this change, in its transaction (the actor and the time are the change's). */
export type Audit = (entry: Omit<AuditInput, 'actor' | 'at'>) => Promise<void>;

/** What a constraint the database refused becomes: an expected outcome the caller shows, not an error. */
export interface Violations<R> {
  /** A UNIQUE constraint (a duplicate name, number, e-mail). */
  unique?: R;
  /** A foreign key (a row still in use, or one gone meanwhile). */
  foreignKey?: R;
}

/**
 * Thrown inside an audited write's `work` when a check made deep in it refuses the change: everything written so
 * far is rolled back and `outcome` (one of the write's results) is returned instead.
 */
export class Refused<R> extends Error {
  constructor(readonly outcome: R, message = 'write refused') {
    super(message);
  }
}

/**
 * One audited change: `work` runs in a transaction with an `audit` function writing into the same transaction, so
 * the change and its audit row are saved together or not at all. A constraint violation named in `violations`
 * rolls back and becomes that outcome, and so does a `Refused` thrown by `work`; any other error rolls back and is thrown.
 */
export async function auditedWrite<T, R = never>(
  db: Knex, who: { actor: AuditActor; at: Date },
  work: (trx: Knex.Transaction, audit: Audit) => Promise<T>,
  violations: Violations<R> = {},
): Promise<T | R> {
  try {
    return await db.transaction((trx) => work(trx, (entry) => recordAudit(trx, { ...entry, actor: who.actor, at: who.at })));
  } catch (err) {
    if (err instanceof Refused) return err.outcome as T | R;
    if (violations.unique !== undefined && isUniqueViolation(err)) return violations.unique;
    if (violations.foreignKey !== undefined && isForeignKeyViolation(err)) return violations.foreignKey;
    throw err;
  }
}

/** Rows per statement when a write or a `whereIn` covers many: well under both engines' limits of bound parameters. */
export const CHUNK = 400;

/** A list cut in slices of `size`, for one statement each. */
export function chunks<T>(list: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
