import type { Knex } from 'knex';
import { trackRevision } from './017_data_revision';

/**
 * Sign-in through an OpenID Connect provider (ProConnect): the provider's identities linked to accounts (issuer and
 * subject, never the e-mail alone once linked), the access requests of agents the app does not know yet, kept for
 * their commune's administrator, and what each commune lets in (its SIRET, its agents' e-mail domain). Accounts
 * created from a request have no local password (an unusable hash, as before a first password). The roles that must bring their second factor from the provider.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('user_identities', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('issuer', 500).notNullable();
    t.string('subject', 255).notNullable();
    t.string('created_at', 30).notNullable();
    t.string('last_used_at', 30);
    t.unique(['issuer', 'subject']);
    t.unique(['user_id', 'issuer']);
  });
  await knex.schema.createTable('access_requests', (t) => {
    t.increments('id');
    t.integer('commune_id').notNullable().references('id').inTable('communes').onDelete('CASCADE');
    t.string('issuer', 500).notNullable();
    t.string('subject', 255).notNullable();
    t.string('email', 254).notNullable();
    t.string('name', 150).notNullable();
    t.string('siret', 14);
    t.string('status', 20).notNullable().defaultTo('pending');
    t.string('created_at', 30).notNullable();
    t.string('decided_at', 30);
    t.integer('decided_by').references('id').inTable('users').onDelete('SET NULL');
    t.unique(['issuer', 'subject']);
    t.index(['commune_id', 'status']);
  });
  await knex.schema.alterTable('communes', (t) => {
    t.string('siret', 14);
    t.string('agent_domain', 253);
    t.boolean('access_requests').notNullable().defaultTo(false);
  });
  await knex.schema.alterTable('security_settings', (t) => {
    t.string('provider_mfa_roles', 100).notNullable().defaultTo('');
  });
  for (const table of ['user_identities', 'access_requests']) await trackRevision(knex, table);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('access_requests');
  await knex.schema.dropTable('user_identities');
  await knex.schema.alterTable('communes', (t) => {
    t.dropColumn('siret');
    t.dropColumn('agent_domain');
    t.dropColumn('access_requests');
  });
  await knex.schema.alterTable('security_settings', (t) => t.dropColumn('provider_mfa_roles'));
}
