import type { Knex } from 'knex';

// Account security: freezing, password history and expiry, one-time links, second factor,
// single session, anonymization, and the settings the admin sets for all of it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.integer('failed_logins').notNullable().defaultTo(0);
    // frozen while this instant is in the future; '9999-…' means until an admin unfreezes
    t.string('frozen_until', 30);
    t.string('password_changed_at', 30);
    // the sign-in the user's only valid session belongs to: a new sign-in replaces it
    t.string('session_token', 64);
    t.string('totp_secret', 64);
    t.string('totp_enabled_at', 30);
    // the last time step accepted: a code is never accepted twice
    t.integer('totp_last_step');
    t.string('anonymized_at', 30);
  });
  await knex.schema.createTable('password_history', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('password_hash', 200).notNullable();
    t.string('created_at', 30).notNullable();
    t.index(['user_id', 'id']);
  });
  await knex.schema.createTable('recovery_codes', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    // SHA-256 of a random code: high-entropy secrets need no slow hash
    t.string('code_hash', 64).notNullable();
    t.string('used_at', 30);
    t.string('created_at', 30).notNullable();
    t.index(['user_id']);
  });
  // One-time links: set a new account's password, reset a forgotten one.
  await knex.schema.createTable('auth_tokens', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    // 'set' | 'reset'
    t.string('purpose', 10).notNullable();
    t.string('token_hash', 64).notNullable().unique();
    t.string('expires_at', 30).notNullable();
    t.string('used_at', 30);
    t.string('created_at', 30).notNullable();
  });
  await knex.schema.createTable('security_settings', (t) => {
    t.integer('id').primary();
    t.integer('password_min_length').notNullable().defaultTo(12);
    t.integer('password_max_length').notNullable().defaultTo(128);
    // how many of the four classes (lower case, upper case, digit, other) a password must mix: 0 = no rule
    t.integer('password_classes').notNullable().defaultTo(0);
    t.integer('password_history').notNullable().defaultTo(5);
    // 0: passwords do not expire
    t.integer('password_max_age_days').notNullable().defaultTo(0);
    t.integer('lockout_threshold').notNullable().defaultTo(5);
    // 0: frozen until an admin unfreezes
    t.integer('lockout_minutes').notNullable().defaultTo(15);
    t.integer('session_idle_minutes').notNullable().defaultTo(30);
    // the roles that must use a second factor, comma-separated
    t.string('totp_roles', 100).notNullable().defaultTo('admin,editor');
    t.integer('inactive_months').notNullable().defaultTo(6);
    t.integer('audit_retention_months').notNullable().defaultTo(12);
    t.string('updated_at', 30);
  });
  await knex('security_settings').insert({ id: 1 });
  await knex.schema.alterTable('audit_log', (t) => {
    t.index(['action', 'at']);
    t.index(['user_id', 'at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['security_settings', 'auth_tokens', 'recovery_codes', 'password_history']) await knex.schema.dropTableIfExists(table);
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropIndex(['action', 'at']);
    t.dropIndex(['user_id', 'at']);
  });
  await knex.schema.alterTable('users', (t) => {
    for (const c of ['failed_logins', 'frozen_until', 'password_changed_at', 'session_token', 'totp_secret', 'totp_enabled_at', 'totp_last_step', 'anonymized_at']) t.dropColumn(c);
  });
}
