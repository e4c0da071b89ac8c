import type { Knex } from 'knex';

/**
 * The risk register of each homologation, on the organisation's scales.
 *
 * `risk_settings` (one row) holds the scales and the matrix as JSON text, the same on SQLite and PostgreSQL:
 * labels of the likelihood levels, of the severity levels and of the criticality classes (2 to 6 of each), and the
 * matrix `matrix[likelihood - 1][severity - 1]` = class (1-based). Levels and classes are stored on a risk as their
 * rank (1 = lowest), so renaming a level changes no risk, and a risk's criticality is always computed, never stored.
 * The default is src/domain/risks.ts DEFAULT_RISK_SCALES, written here as it was when this migration was made.
 */
const DEFAULT = {
  likelihood: ['Improbable', 'Peu probable', 'Probable', 'Très probable'],
  severity: ['Modéré', 'Grave', 'Majeur', 'Critique'],
  classes: ['Faible', 'Modérée', 'Critique', 'Très critique'],
  matrix: [
    [1, 1, 2, 2],
    [1, 2, 2, 3],
    [2, 2, 3, 4],
    [2, 3, 4, 4],
  ],
};

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('risk_settings', (t) => {
    t.integer('id').primary();
    t.text('likelihood_labels').notNullable();
    t.text('severity_labels').notNullable();
    t.text('class_labels').notNullable();
    t.text('matrix').notNullable();
    t.integer('version').notNullable().defaultTo(1);
    t.string('updated_at', 30);
  });
  await knex('risk_settings').insert({
    id: 1, likelihood_labels: JSON.stringify(DEFAULT.likelihood), severity_labels: JSON.stringify(DEFAULT.severity),
    class_labels: JSON.stringify(DEFAULT.classes), matrix: JSON.stringify(DEFAULT.matrix), version: 1,
  });

  await knex.schema.createTable('risks', (t) => {
    t.increments('id').primary();
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('number').notNullable();
    t.string('title', 300).notNullable();
    t.text('description').notNullable().defaultTo('');
    // the threat source or the scenario of the feared event
    t.text('scenario').notNullable().defaultTo('');
    // the owner: a team, a named person, or both
    t.integer('owner_team_id').references('id').inTable('teams').onDelete('SET NULL');
    t.string('owner_name', 200).notNullable().defaultTo('');
    // ranks on the organisation's scales (1 = lowest); the upper bound is the settings', checked on save
    t.integer('likelihood').notNullable().checkBetween([1, 6]);
    t.integer('severity').notNullable().checkBetween([1, 6]);
    t.text('existing_measures').notNullable().defaultTo('');
    t.string('treatment', 20).notNullable().checkIn(['reduire', 'accepter', 'transferer', 'eviter']);
    // once its fiches are done: both or neither
    t.integer('residual_likelihood').checkBetween([1, 6]);
    t.integer('residual_severity').checkBetween([1, 6]);
    t.integer('version').notNullable().defaultTo(1);
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.unique(['plan_id', 'number']);
    t.index(['owner_team_id']);
  });

  // the fiches treating a risk (of the same homologation: checked when saved)
  await knex.schema.createTable('risk_fiches', (t) => {
    t.integer('risk_id').notNullable().references('id').inTable('risks').onDelete('CASCADE');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.primary(['risk_id', 'fiche_id']);
    t.index(['fiche_id']);
  });

  // the instances a risk impacts (within the homologation's perimeter: checked when saved)
  await knex.schema.createTable('risk_instances', (t) => {
    t.integer('risk_id').notNullable().references('id').inTable('risks').onDelete('CASCADE');
    t.integer('instance_id').notNullable().references('id').inTable('instances').onDelete('CASCADE');
    t.primary(['risk_id', 'instance_id']);
    t.index(['instance_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('risk_instances');
  await knex.schema.dropTable('risk_fiches');
  await knex.schema.dropTable('risks');
  await knex.schema.dropTable('risk_settings');
}
