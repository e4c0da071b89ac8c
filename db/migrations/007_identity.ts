import type { Knex } from 'knex';

/**
 * The organisation's identity, one row: whether it is a State service (only then may the pages wear the State's
 * design system, DSFR), its name, an optional logo and accent colour. `nature` stays null until the first
 * administrator chooses: until then the pages wear the neutral identity, which any organisation may use.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('organisation_identity', (t) => {
    t.integer('id').primary();
    // 'etat' | 'autre' | null (not chosen yet)
    t.string('nature', 10);
    t.string('name', 200).notNullable().defaultTo('');
    // '#rrggbb', checked for contrast with white text when saved
    t.string('accent', 7);
    t.binary('logo');
    t.string('logo_type', 30);
    t.string('logo_alt', 200).notNullable().defaultTo('');
    // the legal notice (LCEN): who is the director of publication, who hosts the service (name, address, telephone)
    t.string('legal_publisher', 300).notNullable().defaultTo('');
    t.text('legal_host').notNullable().defaultTo('');
    t.integer('version').notNullable().defaultTo(1);
    t.string('updated_at', 30);
  });
  await knex('organisation_identity').insert({ id: 1, name: '', logo_alt: '', version: 1 });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('organisation_identity');
}
