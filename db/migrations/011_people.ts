import type { Knex } from 'knex';

/**
 * Who does each step, and by when. A step's responsible person is an account of the organisation or a named person
 * without an account (`people`: name, e-mail, function), never both; its own target date defaults to its fiche's
 * (null: the fiche's applies). `assignment_notified` is the assignee last told of the assignment ("u12", "p3"), so
 * an assignment is announced once; `soon_notified_for` and `late_notified_for` are the dates the seven-day notice and
 * the late notice were sent for, so each is sent once per date. An account chooses a digest of its own actions
 * (none, daily, weekly) and may publish its dates as a calendar feed through a private URL whose token is kept hashed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('people', (t) => {
    t.increments('id').primary();
    t.string('name', 150).notNullable();
    t.string('email', 254).notNullable().unique();
    t.string('function', 150).notNullable().defaultTo('');
    t.string('created_at', 30).notNullable();
  });
  await knex.schema.alterTable('steps', (t) => {
    t.integer('assignee_user_id').references('id').inTable('users').onDelete('SET NULL');
    t.integer('assignee_person_id').references('id').inTable('people').onDelete('RESTRICT');
    t.string('target_date', 10);
    t.string('assignment_notified', 20);
    t.string('soon_notified_for', 10);
    t.string('late_notified_for', 10);
    t.index(['assignee_user_id']);
    t.index(['assignee_person_id']);
  });
  await knex.schema.alterTable('users', (t) => {
    // 'none' | 'daily' | 'weekly'
    t.string('actions_digest', 10).notNullable().defaultTo('none');
    t.string('actions_digest_sent_at', 30);
    t.string('ics_token_hash', 64);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('actions_digest');
    t.dropColumn('actions_digest_sent_at');
    t.dropColumn('ics_token_hash');
  });
  await knex.schema.alterTable('steps', (t) => {
    for (const c of ['assignee_user_id', 'assignee_person_id', 'target_date', 'assignment_notified', 'soon_notified_for', 'late_notified_for']) t.dropColumn(c);
  });
  await knex.schema.dropTable('people');
}
