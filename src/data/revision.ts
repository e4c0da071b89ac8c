import type { Knex } from 'knex';

/**
 * The data's revision (db/migrations/017_data_revision.ts): grows with every committed write, on either engine.
 * Read in one statement, so the counter and the pending changes come from the same snapshot.
 */
export async function readRevision(db: Knex): Promise<number> {
  const row = await db.first(db.raw('(SELECT n FROM data_revision WHERE id = 1) + (SELECT count(*) FROM data_changes) AS n'));
  return Number((row as { n: number | string }).n);
}

/**
 * Folds PostgreSQL's pending changes into the counter, in one statement: the revision read before and after is the
 * same, and the table the reads count stays small. Nothing to do on SQLite, whose triggers move the counter itself.
 */
export async function foldRevision(db: Knex): Promise<void> {
  if (db.client.config.client !== 'pg') return;
  await db.raw('WITH gone AS (DELETE FROM data_changes RETURNING 1) UPDATE data_revision SET n = n + (SELECT count(*) FROM gone) WHERE id = 1');
}
