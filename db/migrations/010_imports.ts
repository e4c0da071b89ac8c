import type { Knex } from 'knex';

/**
 * A spreadsheet uploaded for import, between its preview and its confirmation: the tables read from the file (the
 * file itself is not kept), how its columns are mapped, and the unknown teams the user chose to create. In the
 * database so that the preview and the confirmation may be served by different app processes. Kept a day at most
 * (older rows are removed at the next upload); `applied_at` is set, once, by the confirmation's transaction.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('plan_imports', (t) => {
    t.increments('id').primary();
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('file_name', 255).notNullable();
    t.string('format', 10).notNullable();
    // JSON: the sheets as read ({ name, rows }[]), the mappings, the team names to create
    t.text('sheets').notNullable();
    t.text('mappings').notNullable();
    t.text('create_teams').notNullable().defaultTo('[]');
    t.string('created_at', 30).notNullable();
    t.string('applied_at', 30);
    t.text('summary');
    t.index(['plan_id', 'user_id']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('plan_imports');
}
