import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('meetings', (t) => {
    t.increments('id');
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.string('title', 200).notNullable();
    // 'suivi' (follow-up) or 'signature' (the meeting where the authority decides)
    t.string('kind', 20).notNullable().defaultTo('suivi');
    // local date-times, "2026-11-24T14:00"
    t.string('starts_at', 16).notNullable();
    t.string('ends_at', 16).notNullable();
    t.string('place', 300).notNullable().defaultTo('');
    t.string('visio_url', 500).notNullable().defaultTo('');
    t.text('objective').notNullable().defaultTo('');
    t.text('reminder').notNullable().defaultTo('');
    t.text('questions').notNullable().defaultTo('');
    t.boolean('covers_all').notNullable().defaultTo(true);
    t.text('section_order').notNullable().defaultTo('[]');
    t.text('record').notNullable().defaultTo('');
    // set when the meeting is held: the agenda as it stood, never re-rendered from later data
    t.string('held_at', 30);
    t.text('snapshot');
    t.integer('version').notNullable().defaultTo(1);
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.index(['plan_id', 'starts_at']);
  });
  await knex.schema.createTable('meeting_fiches', (t) => {
    t.integer('meeting_id').notNullable().references('id').inTable('meetings').onDelete('CASCADE');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.primary(['meeting_id', 'fiche_id']);
  });
  await knex.schema.createTable('meeting_attendees', (t) => {
    t.increments('id');
    t.integer('meeting_id').notNullable().references('id').inTable('meetings').onDelete('CASCADE');
    t.integer('user_id').references('id').inTable('users').onDelete('SET NULL');
    t.string('name', 200).notNullable();
    t.string('organisation', 200).notNullable().defaultTo('');
    t.index(['meeting_id']);
  });
  await knex.schema.createTable('meeting_decisions', (t) => {
    t.increments('id');
    t.integer('meeting_id').notNullable().references('id').inTable('meetings').onDelete('CASCADE');
    t.integer('fiche_id').references('id').inTable('fiches').onDelete('SET NULL');
    t.text('text').notNullable();
    t.integer('author_id').references('id').inTable('users').onDelete('SET NULL');
    t.string('created_at', 30).notNullable();
    t.index(['meeting_id']);
  });
  await knex.schema.createTable('signatures', (t) => {
    t.increments('id');
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('meeting_id').references('id').inTable('meetings').onDelete('SET NULL');
    t.boolean('signed').notNullable();
    t.string('authority', 300).notNullable();
    t.string('decided_on', 10).notNullable();
    t.integer('duration_months');
    t.text('conditions').notNullable().defaultTo('');
    t.integer('author_id').references('id').inTable('users').onDelete('SET NULL');
    t.string('created_at', 30).notNullable();
    t.index(['plan_id', 'decided_on']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['signatures', 'meeting_decisions', 'meeting_attendees', 'meeting_fiches', 'meetings']) {
    await knex.schema.dropTableIfExists(table);
  }
}
