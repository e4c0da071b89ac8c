import type { Knex } from 'knex';
import { type AuditActor, recordAudit } from './audit';
import { reads } from './reads';

export interface Plan { id: number; title: string; organisation: string; reminder: string; isDemo: boolean }

/** One plan per deployment for now: the first one, created empty on first start if needed. */
export async function currentPlan(db: Knex): Promise<Plan> {
  let row = await db('plans').orderBy('id').first();
  if (!row) {
    await db('plans').insert({ title: "Plan d'action de l'homologation RGS", organisation: 'Collectivité', reminder: '', is_demo: false });
    row = await db('plans').orderBy('id').first();
  }
  return { id: row.id, title: row.title, organisation: row.organisation, reminder: row.reminder, isDemo: Boolean(row.is_demo) };
}

/**
 * Inside a transaction, waits for any other process filling the database at its first start, and keeps
 * others waiting until this transaction ends: an advisory lock on PostgreSQL; on SQLite, the write lock,
 * taken before anything is read (so the read is never stale when the transaction writes).
 */
export async function lockForFirstStart(trx: Knex.Transaction): Promise<void> {
  if (trx.client.config.client === 'pg') await trx.raw('select pg_advisory_xact_lock(?)', [FIRST_START_LOCK]);
  else await trx('plans').where('id', -1).delete();
}

/** An arbitrary key of the advisory lock above ("RGS" in ASCII). */
const FIRST_START_LOCK = 0x524753;

/** True before anything was ever written: no plan and no account. */
export async function isEmpty(db: Knex): Promise<boolean> {
  const [plans, users] = await reads(db,
    () => db('plans').count({ n: '*' }).first(),
    () => db('users').count({ n: '*' }).first(),
  );
  return Number(plans?.n ?? 0) === 0 && Number(users?.n ?? 0) === 0;
}

export interface PlanInput { title: string; organisation: string; reminder: string }

export async function updatePlan(db: Knex, id: number, input: PlanInput, actor: AuditActor, at: Date): Promise<void> {
  await db.transaction(async (trx) => {
    const before = await trx('plans').where({ id }).select('title', 'organisation', 'reminder').first();
    await trx('plans').where({ id }).update(input);
    await recordAudit(trx, { actor, at, action: 'update', entityType: 'plan', entityId: id, summary: input.title, before, after: input });
  });
}
