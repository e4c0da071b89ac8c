import type { Knex } from 'knex';

// Throttling of sign-ins and password resets, counted in the database (several app processes share it).
export async function up(knex: Knex): Promise<void> {
  // Failed attempts on one account from one network source (an IPv4 address or an IPv6 /64): the freeze
  // applies to the sources that failed, so a stranger cannot lock the owner out from elsewhere.
  await knex.schema.createTable('login_sources', (t) => {
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('source', 64).notNullable();
    // attempts charged since the last success from this source (an attempt is charged before its secret is checked)
    t.integer('failures').notNullable().defaultTo(0);
    t.string('last_failure_at', 30);
    // this source is refused for this account until then (right password too)
    t.string('blocked_until', 30);
    t.primary(['user_id', 'source']);
  });
  // Fixed-window counters: password-reset requests per address and per source, sign-in failures per source.
  await knex.schema.createTable('throttle', (t) => {
    t.string('name', 120).primary();
    t.integer('hits').notNullable();
    t.string('window_start', 30).notNullable();
    t.index(['window_start']);
  });
  // The unlock link (sent to the owner of a frozen account) allows a few password attempts only.
  await knex.schema.alterTable('auth_tokens', (t) => {
    t.integer('attempts').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('auth_tokens', (t) => t.dropColumn('attempts'));
  await knex.schema.dropTableIfExists('throttle');
  await knex.schema.dropTableIfExists('login_sources');
}
