import type { Knex } from 'knex';

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
  if (!inserted.length) return null;
  return Number(typeof inserted[0] === 'object' ? inserted[0].id : inserted[0]);
}
