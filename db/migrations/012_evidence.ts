import type { Knex } from 'knex';

/**
 * Evidence: documents attached to a fiche, a step, a progress note, a risk or a decision of a homologation. A document
 * has versions (a replacement adds one, older ones are kept); a version's bytes are stored in the database in chunks
 * of 256 KiB (`document_chunks`), so one backup holds everything, several processes share them, and a download reads
 * them a few at a time instead of loading the file whole. A removed document keeps its rows (hidden) until the audit
 * retention runs out; the scheduler's retention round then deletes them. `evidence_required_for_done`: a homologation
 * setting, a step marked done there must come with a document or a justification.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('documents', (t) => {
    t.increments('id').primary();
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    // 'fiche' | 'step' | 'note' | 'risk' | 'decision'
    t.string('owner_type', 10).notNullable();
    t.integer('owner_id').notNullable();
    t.string('title', 200).notNullable();
    t.integer('created_by').references('id').inTable('users').onDelete('SET NULL');
    t.string('created_at', 30).notNullable();
    t.string('removed_at', 30);
    t.integer('removed_by').references('id').inTable('users').onDelete('SET NULL');
    t.string('removed_reason', 500);
    t.index(['plan_id', 'owner_type', 'owner_id']);
    t.index(['removed_at']);
  });
  await knex.schema.createTable('document_versions', (t) => {
    t.increments('id').primary();
    t.integer('document_id').notNullable().references('id').inTable('documents').onDelete('CASCADE');
    t.integer('version').notNullable();
    t.string('file_name', 255).notNullable();
    t.string('content_type', 120).notNullable();
    t.bigInteger('size').notNullable();
    t.string('sha256', 64).notNullable();
    t.integer('uploaded_by').references('id').inTable('users').onDelete('SET NULL');
    t.string('uploaded_at', 30).notNullable();
    t.unique(['document_id', 'version']);
  });
  await knex.schema.createTable('document_chunks', (t) => {
    t.integer('version_id').notNullable().references('id').inTable('document_versions').onDelete('CASCADE');
    t.integer('seq').notNullable();
    t.binary('data').notNullable();
    t.primary(['version_id', 'seq']);
  });
  await knex.schema.alterTable('plans', (t) => {
    t.boolean('evidence_required_for_done').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('plans', (t) => t.dropColumn('evidence_required_for_done'));
  await knex.schema.dropTable('document_chunks');
  await knex.schema.dropTable('document_versions');
  await knex.schema.dropTable('documents');
}
