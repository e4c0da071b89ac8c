import type { Knex } from 'knex';

/**
 * The data's revision: a number that grows with every committed write to the organisation's data, so that a page
 * computed at one revision can be served again, by any app process, until the next write (see src/web/page-cache.ts).
 * The database keeps it itself, by a trigger on every table: no write path can forget it, and it is counted in the
 * writing transaction, so a reader sees the change and the new revision together.
 *
 * SQLite has one writer at a time: each written row adds one to `data_revision.n`. On PostgreSQL, a counter row
 * updated by every writer would be a lock that every writing transaction takes in the middle of its work (an order
 * of locks that deadlocks with the row locks it takes before and after); each written statement inserts a row
 * into `data_changes` instead, which locks nothing another writer waits for. The revision is then `n` plus the count
 * of `data_changes`, which the scheduler folds into `n` from time to time in one statement (the sum stays the same).
 *
 * A table created by a later migration calls `trackRevision` (test/data-revision.test.ts fails on a table without it).
 */
export const UNTRACKED = ['sessions', 'knex_migrations', 'knex_migrations_lock', 'sqlite_sequence', 'data_revision', 'data_changes'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('data_revision', (t) => {
    t.integer('id').primary();
    t.bigInteger('n').notNullable();
  });
  await knex('data_revision').insert({ id: 1, n: 1 });
  await knex.schema.createTable('data_changes', (t) => {
    t.bigIncrements('id');
  });
  if (knex.client.config.client === 'pg') {
    // a statement that touched no row (a purge with nothing to purge, a guarded update refused) changes nothing
    await knex.raw(`CREATE FUNCTION note_data_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF EXISTS (SELECT 1 FROM changed) THEN INSERT INTO data_changes DEFAULT VALUES; END IF; RETURN NULL; END $$`);
    await knex.raw(`CREATE FUNCTION note_data_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO data_changes DEFAULT VALUES; RETURN NULL; END $$`);
  }
  for (const table of await tablesOf(knex)) await trackRevision(knex, table);
  // the home page counts every homologation's fiches and steps: read from these indexes alone, not from the tables' rows
  await knex.schema.alterTable('steps', (t) => t.index(['fiche_id', 'status'], 'steps_fiche_status'));
  await knex.schema.alterTable('fiches', (t) => t.index(['plan_id', 'status', 'target_date', 'condition_of'], 'fiches_plan_progress'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('steps', (t) => t.dropIndex(['fiche_id', 'status'], 'steps_fiche_status'));
  await knex.schema.alterTable('fiches', (t) => t.dropIndex(['plan_id', 'status', 'target_date', 'condition_of'], 'fiches_plan_progress'));
  for (const table of await tablesOf(knex)) await untrackRevision(knex, table);
  if (knex.client.config.client === 'pg') {
    await knex.raw('DROP FUNCTION note_data_change()');
    await knex.raw('DROP FUNCTION note_data_truncate()');
  }
  await knex.schema.dropTable('data_changes');
  await knex.schema.dropTable('data_revision');
}

/** Every write to the table (insert, update, delete) moves the data's revision, in the writing transaction. */
export async function trackRevision(knex: Knex, table: string): Promise<void> {
  if (knex.client.config.client === 'pg') {
    // one trigger per statement (a bulk insert of 10,000 steps is one change), which sees the rows it changed
    for (const [suffix, event, rows] of [['i', 'INSERT', 'NEW'], ['u', 'UPDATE', 'NEW'], ['d', 'DELETE', 'OLD']] as const) {
      await knex.raw(`CREATE TRIGGER ?? AFTER ${event} ON ?? REFERENCING ${rows} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_data_change()`, [`data_revision_${suffix}`, table]);
    }
    await knex.raw('CREATE TRIGGER data_revision_t AFTER TRUNCATE ON ?? FOR EACH STATEMENT EXECUTE FUNCTION note_data_truncate()', [table]);
    return;
  }
  for (const [suffix, event] of [['i', 'INSERT'], ['u', 'UPDATE'], ['d', 'DELETE']] as const) {
    await knex.raw(`CREATE TRIGGER ?? AFTER ${event} ON ?? BEGIN UPDATE data_revision SET n = n + 1 WHERE id = 1; END`, [`data_revision_${table}_${suffix}`, table]);
  }
}

async function untrackRevision(knex: Knex, table: string): Promise<void> {
  if (knex.client.config.client === 'pg') {
    for (const suffix of ['i', 'u', 'd', 't']) await knex.raw('DROP TRIGGER IF EXISTS ?? ON ??', [`data_revision_${suffix}`, table]);
    return;
  }
  for (const suffix of ['i', 'u', 'd']) await knex.raw('DROP TRIGGER IF EXISTS ??', [`data_revision_${table}_${suffix}`]);
}

/** The tables whose writes the revision follows: all the application's tables but the sessions and the bookkeeping. */
export async function tablesOf(knex: Knex): Promise<string[]> {
  const names: string[] = knex.client.config.client === 'pg'
    ? (await knex.raw("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")).rows.map((r: { name: string }) => r.name)
    : (await knex.raw("SELECT name FROM sqlite_master WHERE type = 'table'")).map((r: { name: string }) => r.name);
  return names.filter((name) => !UNTRACKED.includes(name)).sort();
}
