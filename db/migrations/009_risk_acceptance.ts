import type { Knex } from 'knex';

/**
 * The residual risks the authority accepts in its decision, frozen as they read at that moment: every text is
 * copied (levels, classes and treatment as labels), so a later edit of a risk, of the scales' labels or of the matrix
 * leaves the record as it was decided. `risk_id` only links to the risk while it exists; `commune_ids` (JSON) are
 * the communes whose instances the risk touched then, so a commune's agent sees the same accepted risks ever after.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signature_risks', (t) => {
    t.increments('id').primary();
    t.integer('signature_id').notNullable().references('id').inTable('signatures').onDelete('CASCADE');
    t.integer('risk_id').references('id').inTable('risks').onDelete('SET NULL');
    t.integer('position').notNullable();
    t.integer('number').notNullable();
    t.string('title', 300).notNullable();
    t.string('likelihood_label', 60).notNullable();
    t.string('severity_label', 60).notNullable();
    t.string('criticality_label', 60).notNullable();
    // residual levels when they were set, else null (the initial ones were accepted)
    t.string('residual_likelihood_label', 60);
    t.string('residual_severity_label', 60);
    t.string('residual_criticality_label', 60);
    t.string('treatment_label', 30).notNullable();
    t.string('accepted_by', 200).notNullable();
    t.string('accepted_until', 10);
    t.text('commune_ids').notNullable().defaultTo('[]');
    t.index(['signature_id']);
    t.index(['risk_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signature_risks');
}
