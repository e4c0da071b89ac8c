import type { Knex } from 'knex';

/**
 * A late step is followed like a late fiche's alert: its responsible person is reminded every few days (the alerts'
 * delay) until they acknowledge it, or update the step; a new date starts over. `late_acknowledged_at` is that
 * acknowledgement, `late_reminders` and `late_last_sent_at` the reminders sent for the current date.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('steps', (t) => {
    t.string('late_acknowledged_at', 30);
    t.integer('late_reminders').notNullable().defaultTo(0);
    t.string('late_last_sent_at', 30);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('steps', (t) => {
    t.dropColumn('late_acknowledged_at');
    t.dropColumn('late_reminders');
    t.dropColumn('late_last_sent_at');
  });
}
