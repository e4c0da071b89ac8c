import type { Knex } from 'knex';

/**
 * The link a named person without an account receives for one of their steps: it lets them mark that step done and
 * add a note, nothing more. A random token of 256 bits, kept as its SHA-256 only, for that step and that person
 * (reassigning the step ends it), until it expires.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('step_links', (t) => {
    t.increments('id').primary();
    t.string('token_hash', 64).notNullable().unique();
    t.integer('step_id').notNullable().references('id').inTable('steps').onDelete('CASCADE');
    t.integer('person_id').notNullable().references('id').inTable('people').onDelete('CASCADE');
    t.string('created_at', 30).notNullable();
    t.string('expires_at', 30).notNullable();
    t.index(['step_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('step_links');
}
