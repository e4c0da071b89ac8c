import type { Knex } from 'knex';
import { addReference } from './006_homologations';

/**
 * Co-management with the communes.
 * - `fiches.rollout`: the fiche is followed instance by instance; `fiche_rollouts` holds each instance's status, planned
 *   date and note for it (no row: not started, version 0). `version` moves by one at each change, in a guarded update.
 * - `bulk_operations`: one change applied to many objects at once ("par lot"); each object changed has its own audit
 *   entry, tagged with the operation (`audit_log.bulk_id`).
 * - `commune_steps`: a step "à mener par les communes" has its own status in each commune concerned.
 * - `progress_notes.commune_id`: a note written by a commune's agent, labelled with the commune.
 * - `side_effect_answers`: a commune's acknowledgement of (or objection to) a fiche's strong side effects, with the
 *   wording it answered (an answer to an older wording is shown as such).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('fiches', (t) => {
    t.boolean('rollout').notNullable().defaultTo(false);
  });
  await knex.schema.createTable('fiche_rollouts', (t) => {
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.integer('instance_id').notNullable().references('id').inTable('instances').onDelete('CASCADE');
    t.string('status', 20).notNullable().defaultTo('non_demarre');
    t.string('due_on', 10);
    t.text('note').notNullable().defaultTo('');
    t.integer('version').notNullable().defaultTo(0);
    t.string('updated_at', 30);
    t.integer('updated_by').references('id').inTable('users').onDelete('SET NULL');
    // set when the change was made by a commune's agent (the answer is labelled with the commune)
    t.integer('updated_by_commune').references('id').inTable('communes').onDelete('SET NULL');
    t.primary(['fiche_id', 'instance_id']);
    t.index(['instance_id']);
  });
  await knex.schema.createTable('bulk_operations', (t) => {
    t.increments('id');
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('user_id').references('id').inTable('users').onDelete('SET NULL');
    t.string('actor', 200).notNullable();
    t.integer('commune_id').references('id').inTable('communes').onDelete('SET NULL');
    t.string('at', 30).notNullable();
    // 'deploiement' | 'fiches' | 'actions'
    t.string('kind', 20).notNullable();
    t.text('summary').notNullable();
    t.integer('count').notNullable();
    t.index(['plan_id', 'at']);
  });
  // no foreign key: an audit entry outlives the homologation its operation belonged to
  await knex.schema.alterTable('audit_log', (t) => {
    t.integer('bulk_id');
    t.index(['bulk_id']);
  });
  await knex.schema.createTable('commune_steps', (t) => {
    t.integer('step_id').notNullable().references('id').inTable('steps').onDelete('CASCADE');
    t.integer('commune_id').notNullable().references('id').inTable('communes').onDelete('CASCADE');
    t.string('status', 20).notNullable().defaultTo('non_demarre');
    t.integer('version').notNullable().defaultTo(0);
    t.string('updated_at', 30);
    t.integer('updated_by').references('id').inTable('users').onDelete('SET NULL');
    t.primary(['step_id', 'commune_id']);
    t.index(['commune_id']);
  });
  await addReference(knex, 'progress_notes', 'commune_id', 'communes', 'SET NULL');
  await knex.schema.createTable('side_effect_answers', (t) => {
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.integer('commune_id').notNullable().references('id').inTable('communes').onDelete('CASCADE');
    // 'prise_acte' | 'objection'
    t.string('answer', 20).notNullable();
    t.text('comment').notNullable().defaultTo('');
    // the strong side effects' wording answered, as a JSON array of their descriptions
    t.text('effects').notNullable();
    t.integer('user_id').references('id').inTable('users').onDelete('SET NULL');
    t.string('answered_at', 30).notNullable();
    t.integer('version').notNullable().defaultTo(1);
    t.primary(['fiche_id', 'commune_id']);
    t.index(['commune_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('side_effect_answers');
  await knex.schema.alterTable('progress_notes', (t) => t.dropColumn('commune_id'));
  await knex.schema.dropTable('commune_steps');
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropIndex(['bulk_id']);
    t.dropColumn('bulk_id');
  });
  await knex.schema.dropTable('bulk_operations');
  await knex.schema.dropTable('fiche_rollouts');
  await knex.schema.alterTable('fiches', (t) => t.dropColumn('rollout'));
}
