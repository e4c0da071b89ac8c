import type { Knex } from 'knex';
import type { AuditActor } from './audit';
import { reads } from './reads';
import { auditedWrite } from './write';

export interface Plan { id: number; title: string; organisation: string; reminder: string; isDemo: boolean }

/** The organisation's name as the e-mails sign it when no homologation gives it. */
export const DEFAULT_ORGANISATION = 'Organisation';

/**
 * The organisation's name: the one its most recent homologation not archived carries (else its most recent one),
 * or "Organisation" before any homologation exists (a neutral word: the install may be a ministry, not a local authority).
 */
export async function organisationName(db: Knex): Promise<string> {
  // the name the administrator gave the organisation's identity, else the one its homologations carry
  const identity = await db('organisation_identity').where({ id: 1 }).select('name').first();
  if (identity?.name) return String(identity.name);
  const row = await db('plans').select('organisation')
    .orderBy([{ column: 'archived_at', order: 'asc', nulls: 'first' }, { column: 'id', order: 'desc' }]).first();
  return row?.organisation ? String(row.organisation) : DEFAULT_ORGANISATION;
}

/** Whether the demonstration homologations are loaded (the sign-in page then shows the demo accounts). */
export async function hasDemoHomologation(db: Knex): Promise<boolean> {
  return Boolean(await db('plans').where('is_demo', true).select('id').first());
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

/**
 * Runs `load` on an empty database, in one transaction: a load interrupted (full disk, process killed) leaves the
 * database empty, not half-filled without accounts, and the next start loads it again. Two processes starting
 * together: the second waits, then finds the database filled. True when this call loaded it.
 */
export async function loadOnceIntoEmpty(db: Knex, load: (trx: Knex.Transaction) => Promise<void>): Promise<boolean> {
  return db.transaction(async (trx) => {
    await lockForFirstStart(trx);
    if (!(await isEmpty(trx))) return false;
    await load(trx);
    return true;
  });
}

export interface PlanInput { title: string; organisation: string; reminder: string }

export async function updatePlan(db: Knex, id: number, input: PlanInput, actor: AuditActor, at: Date): Promise<void> {
  await auditedWrite(db, { actor, at }, async (trx, audit) => {
    const before = await trx('plans').where({ id }).select('title', 'organisation', 'reminder').first();
    await trx('plans').where({ id }).update(input);
    await audit({ action: 'update', entityType: 'plan', entityId: id, summary: input.title, before, after: input });
  });
}

/** The homologations to choose from in a form (a milestone's): every one, the archived last, newest first. */
export async function homologationChoices(db: Knex): Promise<{ id: number; title: string; archived: boolean }[]> {
  const rows = await db('plans').select('id', 'title', 'archived_at')
    .orderBy([{ column: 'archived_at', order: 'asc', nulls: 'first' }, { column: 'id', order: 'desc' }]);
  return rows.map((r) => ({ id: Number(r.id), title: String(r.title), archived: Boolean(r.archived_at) }));
}

export interface SetupCounts {
  /** Each at most 2. */
  teams: number; services: number; instances: number; accounts: number; homologations: number; fiches: number;
  /** The most recent homologation not archived, where the first fiche is written. */
  latestHomologationId: number | null;
}

/**
 * How many of each thing the first set-up asks for exist, counted up to 2 only: the checklist asks whether there are
 * any (two accounts: someone besides the first admin), and it runs on every visit of an admin's home page, where a
 * COUNT(*) over a national plan's fiches would be wasted.
 */
export async function setupCounts(db: Knex): Promise<SetupCounts> {
  const count = async (table: string) => (await db(table).select('id').limit(2)).length;
  const [teams, services, instances, accounts, homologations, fiches] = await Promise.all(
    ['teams', 'services', 'instances', 'users', 'plans', 'fiches'].map(count),
  );
  const latest = await db('plans').whereNull('archived_at').orderBy('id', 'desc').select('id').first();
  return {
    teams: teams!, services: services!, instances: instances!, accounts: accounts!, homologations: homologations!, fiches: fiches!,
    latestHomologationId: latest ? Number(latest.id) : null,
  };
}
