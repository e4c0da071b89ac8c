import type { Knex } from 'knex';

// Commune contacts, the commune digests, late-fiche alerts and the outbox every e-mail goes through.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('commune_contacts', (t) => {
    t.increments('id');
    t.integer('commune_id').notNullable().references('id').inTable('communes').onDelete('CASCADE');
    t.string('name', 150).notNullable();
    t.string('email', 254).notNullable();
    t.string('function', 150).notNullable().defaultTo('');
    // the secret of the unsubscribe link of every e-mail sent to this contact
    t.string('unsubscribe_token', 64).notNullable().unique();
    t.string('unsubscribed_at', 30);
    t.string('created_at', 30).notNullable();
    t.unique(['commune_id', 'email']);
  });
  // Which teams a user belongs to: the members of a fiche's owner teams receive its alerts.
  await knex.schema.createTable('team_members', (t) => {
    t.integer('team_id').notNullable().references('id').inTable('teams').onDelete('CASCADE');
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.primary(['team_id', 'user_id']);
    t.index(['user_id']);
  });
  // A step the communes carry out themselves (shown in their digest).
  await knex.schema.alterTable('steps', (t) => {
    t.boolean('for_communes').notNullable().defaultTo(false);
  });
  // One row: the digest schedule and the alert settings the admin sets.
  await knex.schema.createTable('mail_settings', (t) => {
    t.integer('id').primary();
    // 'none' | 'weekly' | 'monthly'
    t.string('digest_frequency', 10).notNullable().defaultTo('none');
    // 1 = Monday … 7 = Sunday
    t.integer('digest_weekday').notNullable().defaultTo(1);
    // for a monthly digest: '1'…'4' (first…fourth such weekday of the month) or 'L' (the last)
    t.string('digest_week', 2).notNullable().defaultTo('1');
    t.string('digest_time', 5).notNullable().defaultTo('09:00');
    // the instant the scheduler last looked: occurrences after it and up to now are due
    t.string('digest_checked_at', 30);
    t.boolean('alerts_enabled').notNullable().defaultTo(true);
    t.integer('alert_reminder_days').notNullable().defaultTo(7);
    t.string('updated_at', 30);
  });
  await knex('mail_settings').insert({ id: 1 });
  // A digest sent (or being sent) to a commune for a period: the unique pair is what makes it once only.
  await knex.schema.createTable('digests', (t) => {
    t.increments('id');
    t.integer('commune_id').notNullable().references('id').inTable('communes').onDelete('CASCADE');
    t.string('period', 40).notNullable();
    t.string('since_at', 30);
    t.string('created_at', 30).notNullable();
    t.integer('recipients').notNullable().defaultTo(0);
    t.string('origin', 20).notNullable().defaultTo('manuel');
    t.unique(['commune_id', 'period']);
    t.index(['commune_id', 'created_at']);
  });
  await knex.schema.createTable('alerts', (t) => {
    t.increments('id');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    // the target date that passed: a fiche moved to a new date and late again gets a new alert
    t.string('target_date', 10).notNullable();
    t.string('created_at', 30).notNullable();
    t.string('last_sent_at', 30);
    t.integer('reminders').notNullable().defaultTo(0);
    t.string('acknowledged_at', 30);
    t.integer('acknowledged_by').references('id').inTable('users').onDelete('SET NULL');
    t.string('acknowledged_by_name', 150);
    // set when the fiche is done or its target date moved: nothing more is sent
    t.string('resolved_at', 30);
    t.unique(['fiche_id', 'target_date']);
  });
  await knex.schema.createTable('outbox', (t) => {
    t.increments('id');
    // 'digest' | 'alert' | 'reminder'
    t.string('kind', 20).notNullable();
    // what this message is, once: a second decision to send the same thing inserts nothing
    t.string('dedup_key', 200).notNullable().unique();
    t.integer('commune_id').references('id').inTable('communes').onDelete('SET NULL');
    t.integer('digest_id').references('id').inTable('digests').onDelete('SET NULL');
    t.integer('alert_id').references('id').inTable('alerts').onDelete('SET NULL');
    t.string('to_address', 254).notNullable();
    t.string('to_name', 150).notNullable().defaultTo('');
    t.string('subject', 300).notNullable();
    t.text('text').notNullable();
    t.text('html').notNullable();
    t.string('unsubscribe_url', 500);
    // 'pending' | 'sending' | 'sent' | 'failed'
    t.string('status', 10).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('next_attempt_at', 30).notNullable();
    // a worker's claim: past it, a worker that died mid-send has let go
    t.string('locked_until', 30);
    t.string('claim', 40);
    t.text('last_error');
    t.string('created_at', 30).notNullable();
    t.string('sent_at', 30);
    t.index(['status', 'next_attempt_at']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['outbox', 'alerts', 'digests', 'mail_settings', 'team_members', 'commune_contacts']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.schema.alterTable('steps', (t) => t.dropColumn('for_communes'));
}
