import type { Knex } from 'knex';
import { reads } from './reads';
import { insertedId } from './write';

/** When the commune's latest digest before an instant was decided, to count the changes from. */
export async function previousDigestAt(db: Knex, communeId: number, before: Date): Promise<string | null> {
  const row = await db('digests').where('commune_id', communeId).where('created_at', '<', before.toISOString()).orderBy('created_at', 'desc').first();
  return row ? String(row.created_at) : null;
}

export async function digestExists(db: Knex, communeId: number, period: string): Promise<boolean> {
  return Boolean(await db('digests').where({ commune_id: communeId, period }).first());
}

/** The latest digest of each commune. */
export async function lastDigests(db: Knex): Promise<Map<number, string>> {
  const rows: { commune_id: number; last: string }[] = await db('digests').select('commune_id').max({ last: 'created_at' }).groupBy('commune_id');
  return new Map(rows.map((r) => [Number(r.commune_id), String(r.last)]));
}

/** Inserts the (commune, period) digest unless it exists; its id, or null when another run got there first. */
export async function insertDigest(
  trx: Knex, row: { communeId: number; period: string; recipients: number; origin: string }, at: Date,
): Promise<number | null> {
  const inserted = await trx('digests').insert({
    commune_id: row.communeId, period: row.period, created_at: at.toISOString(), recipients: row.recipients, origin: row.origin,
  }).onConflict(['commune_id', 'period']).ignore().returning('id');
  return inserted.length ? insertedId(inserted) : null;
}

export interface FicheLink { homologation: string; number: number }

/**
 * The renewal links of these fiches: the fiche each one continues (carried over from the homologation it renews),
 * and the fiche each one is continued by in a renewal.
 */
export async function renewalLinks(db: Knex, ficheIds: number[]): Promise<{ from: Map<number, FicheLink>; to: Map<number, FicheLink> }> {
  if (!ficheIds.length) return { from: new Map(), to: new Map() };
  const [from, to] = await reads(db,
    () => db('fiches').join('fiches as origin', 'origin.id', 'fiches.carried_from_id').join('plans', 'plans.id', 'origin.plan_id')
      .whereIn('fiches.id', ficheIds).select('fiches.id', 'origin.number', 'plans.title'),
    () => db('fiches as next').join('plans', 'plans.id', 'next.plan_id').whereIn('next.carried_from_id', ficheIds)
      .select('next.carried_from_id as id', 'next.number', 'plans.title'),
  );
  const mapOf = (rows: { id: number; number: number; title: string }[]) =>
    new Map(rows.map((r) => [Number(r.id), { homologation: String(r.title), number: Number(r.number) }]));
  return { from: mapOf(from), to: mapOf(to) };
}
